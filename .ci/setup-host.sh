#!/usr/bin/env bash
# Host tools of the real-network chaos tests (packages/chaos/test/real-network.test.ts):
# iptables (partitions, packet loss), iproute2 (ip netns, tc), util-linux (unshare, mount) and
# libfaketime (clock skew). Installs only what is missing, so a second run does nothing. Without
# root it installs nothing and says so: the real-network test then fails and names what is missing.
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v unshare >/dev/null 2>&1 && command -v mount >/dev/null 2>&1 || missing+=(util-linux mount)
has_faketime=no
for lib in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -e "$lib" ] && has_faketime=yes
done
[ "$has_faketime" = yes ] || missing+=(faketime)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: not root, cannot install ${missing[*]}; the real-network chaos test will fail and say why" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-host: no apt-get here; install ${missing[*]} by hand" >&2
  exit 1
fi
echo "setup-host: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

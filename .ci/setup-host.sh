#!/usr/bin/env bash
# Host tools of the real-network chaos tests (packages/chaos/test/real-network.test.ts):
# iptables (partitions, packet loss), iproute2 (ip netns, tc), util-linux (unshare, mount) and
# libfaketime (clock skew). And for tools/chart-render (`npm run chart:template`,
# test-cluster/test/chart.test.ts), which rebuilds Helm's template engine because the helm binary
# cannot be installed: Go and Debian's packaged Go libraries it imports in GOPATH mode from
# /usr/share/gocode (sprig, semver, yaml.v2 and yaml.v3, gojsonschema for values.schema.json).
# And Prometheus with promtool (test-cluster/test/prometheus*.test.ts: the alert rules' unit tests,
# and a real Prometheus scraping a cluster; Debian's package starts no daemon in a container).
# Installs only what is missing, so a second run does nothing. Without root it installs nothing
# and says so: the tests that need a missing tool then fail and name it.
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v unshare >/dev/null 2>&1 && command -v mount >/dev/null 2>&1 || missing+=(util-linux mount)
# The StatefulSet emulation (test-cluster/src/kube) runs containers with setpriv, nsenter and chroot.
command -v setpriv >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v chroot >/dev/null 2>&1 || missing+=(coreutils)
has_faketime=no
for lib in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -e "$lib" ] && has_faketime=yes
done
[ "$has_faketime" = yes ] || missing+=(faketime)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
gocode=/usr/share/gocode/src
[ -d "$gocode/github.com/Masterminds/sprig" ] || missing+=(golang-github-masterminds-sprig-dev)
[ -d "$gocode/github.com/Masterminds/semver" ] || missing+=(golang-github-masterminds-semver-dev)
[ -d "$gocode/gopkg.in/yaml.v2" ] || missing+=(golang-gopkg-yaml.v2-dev)
[ -d "$gocode/gopkg.in/yaml.v3" ] || missing+=(golang-gopkg-yaml.v3-dev)
[ -d "$gocode/github.com/xeipuuv/gojsonschema" ] || missing+=(golang-github-xeipuuv-gojsonschema-dev)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: not root, cannot install ${missing[*]}; the tests that need them will fail and say why" >&2
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

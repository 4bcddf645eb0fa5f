#!/usr/bin/env bash
# preflight-check.sh: is this host ready to run a StreamBus broker? Run it on every broker host
# before go-live and before each start after a change (the production checklist's T-1 day step).
# It checks what the broker cannot check for itself before it starts; it starts nothing.
#
#   sudo ops/scripts/preflight-check.sh                       # /etc/streambus/server.yaml
#   STREAMBUS_CONFIG=/srv/streambus.yaml ops/scripts/preflight-check.sh
#
# Environment:
#   STREAMBUS_CONFIG     the broker's server.yaml (default /etc/streambus/server.yaml); STREAMBUS_*
#                        variables in the environment apply as they do for the broker
#   SERVICE_USER         the user the broker runs as (default streambus, if it exists)
#   DISK_USED_PCT_MAX    highest acceptable use of the data disk in percent (default 80)
#   NOFILE_MIN           lowest acceptable open-files limit (default 65536)
#   PEER_TIMEOUT_S       seconds to wait for a peer's port (default 3)
#
# Each check prints ✓ (passed), ! (warning: worth a look, not a blocker) or ✗ (failed).
# Exit codes: 0 ready (warnings allowed), 1 a check failed, 2 the streambus CLI is missing.

set -uo pipefail

CONFIG="${STREAMBUS_CONFIG:-/etc/streambus/server.yaml}"
DISK_USED_PCT_MAX="${DISK_USED_PCT_MAX:-80}"
NOFILE_MIN="${NOFILE_MIN:-65536}"
PEER_TIMEOUT_S="${PEER_TIMEOUT_S:-3}"
if [ -z "${SERVICE_USER:-}" ] && id streambus >/dev/null 2>&1; then SERVICE_USER=streambus; fi
SERVICE_USER="${SERVICE_USER:-$(id -un)}"
PASS=0
WARN=0
FAIL=0

pass() {
    echo "✓ $*"
    PASS=$((PASS + 1))
}
warn() {
    echo "! $*"
    WARN=$((WARN + 1))
}
fail() {
    echo "✗ $*"
    FAIL=$((FAIL + 1))
}

if ! command -v streambus >/dev/null 2>&1; then
    echo "preflight-check: the streambus CLI is not on PATH" >&2
    exit 2
fi

echo "=== StreamBus Preflight Check ($(hostname), config $CONFIG) ==="

# 1. Software.
VERSION=$(streambus --version 2>&1)
if [ $? -eq 0 ]; then pass "CLI installed: $VERSION ($(command -v streambus))"; else fail "streambus --version failed: $VERSION"; fi
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$NODE_MAJOR" -ge 20 ]; then pass "Node.js $(node --version)"; else fail "Node.js 20 or later is needed (found: ${NODE_MAJOR})"; fi

# 2. The configuration, exactly as the broker would load it.
VALID=$(streambus server --validate-config --config "$CONFIG" 2>&1)
if [ $? -eq 0 ]; then
    pass "Configuration valid (${VALID#configuration valid: })"
else
    fail "Configuration refused:"
    sed 's/^/    /' <<<"$VALID"
    echo
    echo "=== Results: $PASS passed, $WARN warnings, $FAIL failed ==="
    echo "Preflight: NOT READY ✗ (fix the configuration first; the other checks need it)"
    exit 1
fi
DUMP=$(streambus config dump --config "$CONFIG" 2>/dev/null)
value() { sed -n "s/^  $1: //p" <<<"$DUMP" | head -1 | tr -d '"'; }
BROKER_ID=$(value broker_id)
LISTEN=$(value listen)
ADMIN=$(value admin_listen)
DATA_DIR=$(value data_dir)
PEERS=$(value peers)
WAL_SYNC=$(value wal_sync)

# 3. Durability setting.
if [ "$WAL_SYNC" = "always" ]; then
    pass "storage.wal_sync: always (acks=all means on disk on a quorum)"
else
    warn "storage.wal_sync: $WAL_SYNC (an acknowledged record may be only in memory on a quorum; use always in production)"
fi

# 4. The data directory: present, writable by the service user, on a real disk with room.
if [ -d "$DATA_DIR" ]; then
    pass "Data directory exists: $DATA_DIR"
elif [ -d "$(dirname "$DATA_DIR")" ]; then
    warn "Data directory $DATA_DIR does not exist yet (the broker creates it; its parent must be writable)"
else
    fail "Data directory $DATA_DIR and its parent do not exist"
fi
PROBE_DIR="$DATA_DIR"
[ -d "$PROBE_DIR" ] || PROBE_DIR=$(dirname "$DATA_DIR")
if [ "$(id -un)" = "$SERVICE_USER" ]; then
    WRITABLE=$(test -w "$PROBE_DIR" && echo yes)
elif [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
    WRITABLE=$(runuser -u "$SERVICE_USER" -- test -w "$PROBE_DIR" && echo yes)
else
    WRITABLE=unknown
fi
case "$WRITABLE" in
yes) pass "$PROBE_DIR writable by $SERVICE_USER" ;;
unknown) warn "Cannot check whether $SERVICE_USER may write $PROBE_DIR (run as root or as $SERVICE_USER)" ;;
*) fail "$PROBE_DIR not writable by $SERVICE_USER (chown $SERVICE_USER $DATA_DIR)" ;;
esac
if [ -d "$PROBE_DIR" ]; then
    FSTYPE=$(df --output=fstype "$PROBE_DIR" 2>/dev/null | tail -1 | tr -d ' ')
    USED_PCT=$(df --output=pcent "$PROBE_DIR" 2>/dev/null | tail -1 | tr -dc '0-9')
    AVAIL=$(df -h --output=avail "$PROBE_DIR" 2>/dev/null | tail -1 | tr -d ' ')
    if [ "$FSTYPE" = "tmpfs" ]; then
        warn "$PROBE_DIR is on tmpfs: the broker's data (and its Raft vote) would not survive a reboot"
    fi
    if [ -n "$USED_PCT" ] && [ "$USED_PCT" -lt "$DISK_USED_PCT_MAX" ]; then
        pass "Data disk ${USED_PCT}% used, $AVAIL free ($FSTYPE)"
    else
        fail "Data disk ${USED_PCT:-?}% used, $AVAIL free: more than $DISK_USED_PCT_MAX% (see ops/runbooks/disk-full.md)"
    fi
fi

# 5. Open files: the unit's LimitNOFILE, else this shell's limit.
UNIT_NOFILE=""
if command -v systemctl >/dev/null 2>&1 && systemctl cat streambus >/dev/null 2>&1; then
    UNIT_NOFILE=$(systemctl show streambus -p LimitNOFILE --value 2>/dev/null)
fi
NOFILE="${UNIT_NOFILE:-$(ulimit -n)}"
if [ "$NOFILE" = "unlimited" ] || [ "$NOFILE" -ge "$NOFILE_MIN" ]; then
    pass "Open files limit $NOFILE (${UNIT_NOFILE:+the streambus unit}${UNIT_NOFILE:-ulimit -n})"
else
    warn "Open files limit $NOFILE is below $NOFILE_MIN (LimitNOFILE in the unit, or /etc/security/limits.conf)"
fi

# 6. The broker's ports are free (nothing else, and no broker yet, listens on them).
port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
for ADDRESS in "$LISTEN" "$ADMIN"; do
    PORT="${ADDRESS##*:}"
    if [ "$PORT" = "0" ]; then
        pass "Port of $ADDRESS is ephemeral"
    elif port_in_use "$PORT"; then
        fail "Port $PORT ($ADDRESS) is in use: $(ss -Htlnp "sport = :$PORT" 2>/dev/null | awk '{print $NF}' | head -1)"
    else
        pass "Port $PORT ($ADDRESS) is free"
    fi
done

# 7. Every other broker's address resolves and (once started) answers.
if [ -z "$PEERS" ]; then
    warn "No peers configured: a single-broker cluster (no replication)"
else
    for PEER in $(tr ',' ' ' <<<"$PEERS"); do
        ID="${PEER%%=*}"
        ADDRESS="${PEER#*=}"
        [ "$ID" = "$BROKER_ID" ] && continue
        HOST="${ADDRESS%:*}"
        PORT="${ADDRESS##*:}"
        HOST="${HOST#[}"
        HOST="${HOST%]}"
        if ! getent hosts "$HOST" >/dev/null 2>&1; then
            fail "Peer $ID: $HOST does not resolve"
        elif timeout "$PEER_TIMEOUT_S" bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; then
            pass "Peer $ID reachable at $ADDRESS"
        else
            warn "Peer $ID at $ADDRESS does not answer (not started yet, or a firewall between)"
        fi
    done
fi

# 8. The clock (time-based retention and log timestamps need it; Raft itself does not).
if command -v timedatectl >/dev/null 2>&1 && SYNCED=$(timedatectl show -p NTPSynchronized --value 2>/dev/null); then
    if [ "$SYNCED" = "yes" ]; then pass "Clock synchronized (NTP)"; else warn "Clock not synchronized (enable NTP: timedatectl set-ntp true)"; fi
else
    warn "Cannot check clock synchronization (timedatectl did not answer: no systemd here?)"
fi

# Summary
echo
echo "=== Results: $PASS passed, $WARN warnings, $FAIL failed ==="
if [ "$FAIL" -eq 0 ]; then
    echo "Preflight: READY ✓"
    exit 0
else
    echo "Preflight: NOT READY ✗"
    exit 1
fi

#!/usr/bin/env bash
# e2e-health-check.sh: is everything working? Checks a running StreamBus cluster end to end with
# the streambus CLI: controller and brokers, partitions, every broker's /ready and /metrics, then a
# record produced (acks=all) and read back. Prints one line per check and a summary; run it every
# few minutes (cron, a Kubernetes CronJob) and after every change.
#
#   STREAMBUS_BOOTSTRAP=broker-1:9092,broker-2:9092 ops/scripts/e2e-health-check.sh
#
# Environment:
#   STREAMBUS_BOOTSTRAP        brokers to contact (default 127.0.0.1:9092)
#   STREAMBUS_ADMIN_ADDRESSES  admin HOST:PORT of every broker, comma separated (default: each
#                              broker's host from `cluster status` with STREAMBUS_ADMIN_PORT)
#   STREAMBUS_ADMIN_PORT       admin port when the addresses are derived (default 9090)
#   EXPECTED_BROKERS           brokers that must be alive (default 3)
#   HEALTH_CHECK_TOPIC         topic of the produce/consume check (default streambus-health-check;
#                              created once, 1 partition, replicated on up to 3 brokers)
#   HEALTH_CHECK_TIMEOUT       deadline of each command (default 10s)
#
# Exit codes: 0 healthy, 1 degraded (a check failed), 2 the streambus CLI is missing.

set -uo pipefail

BOOTSTRAP="${STREAMBUS_BOOTSTRAP:-127.0.0.1:9092}"
ADMIN_PORT="${STREAMBUS_ADMIN_PORT:-9090}"
EXPECTED_BROKERS="${EXPECTED_BROKERS:-3}"
TOPIC="${HEALTH_CHECK_TOPIC:-streambus-health-check}"
TIMEOUT="${HEALTH_CHECK_TIMEOUT:-10s}"
PASS=0
FAIL=0

pass() {
    echo "✓ $*"
    PASS=$((PASS + 1))
}
fail() {
    echo "✗ $*"
    FAIL=$((FAIL + 1))
}

if ! command -v streambus >/dev/null 2>&1; then
    echo "e2e-health-check: the streambus CLI is not on PATH" >&2
    exit 2
fi

echo "=== StreamBus Health Check (${BOOTSTRAP}) ==="

# 1. The cluster answers and has a controller leader.
STATUS=$(streambus cluster status --bootstrap "$BOOTSTRAP" --timeout "$TIMEOUT" 2>&1)
if [ $? -eq 0 ] && grep -q '^cluster .*: controller broker [0-9]' <<<"$STATUS"; then
    pass "Controller elected ($(head -1 <<<"$STATUS" | sed 's/^cluster [^:]*: //'))"
else
    fail "No controller leader or no broker answers: $(head -1 <<<"$STATUS")"
fi

# 2. Brokers registered and alive (rows of the BROKER table).
ALIVE=$(awk '$1 ~ /^[0-9]+$/ && $3 == "yes" { n++ } END { print n + 0 }' <<<"$STATUS")
DOWN=$(awk '$1 ~ /^[0-9]+$/ && $3 != "yes" { printf "%s%s", sep, $1; sep = "," }' <<<"$STATUS")
if [ "$ALIVE" -ge "$EXPECTED_BROKERS" ]; then
    pass "Brokers alive ($ALIVE of $EXPECTED_BROKERS expected)"
else
    fail "Not enough brokers alive (expected ≥$EXPECTED_BROKERS, got $ALIVE${DOWN:+; down: $DOWN})"
fi

# 3. Every partition has a leader and all its replicas in sync.
OFFLINE=$(sed -n 's/^offline partitions: //p' <<<"$STATUS")
UNDER=$(sed -n 's/^under-replicated partitions: //p' <<<"$STATUS")
if [ "$OFFLINE" = "none" ]; then
    pass "All partitions have a leader"
else
    fail "Offline partitions: ${OFFLINE:-unknown}"
fi
if [ "$UNDER" = "none" ]; then
    pass "No under-replicated partitions"
else
    fail "Under-replicated partitions: ${UNDER:-unknown}"
fi

# 4. Every broker is ready (caught up, in quorum) and serves its metrics.
if [ -n "${STREAMBUS_ADMIN_ADDRESSES:-}" ]; then
    ADMINS=$(tr ',' ' ' <<<"$STREAMBUS_ADMIN_ADDRESSES")
else
    ADMINS=$(awk -v port="$ADMIN_PORT" '$1 ~ /^[0-9]+$/ { host = $2; sub(/:[0-9]+$/, "", host); print host ":" port }' <<<"$STATUS")
fi
for ADMIN in $ADMINS; do
    if READY=$(streambus health --broker "$ADMIN" --ready --timeout "$TIMEOUT" 2>&1); then
        pass "Broker $ADMIN ready ($(head -1 <<<"$READY"))"
    else
        fail "Broker $ADMIN not ready: $(head -1 <<<"$READY")"
    fi
    # Read the whole answer first: `curl | grep -q` fails under pipefail when grep stops early.
    METRICS=$(curl -sf --max-time 5 "http://$ADMIN/metrics" 2>/dev/null)
    if grep -q '^streambus_' <<<"$METRICS"; then
        pass "Broker $ADMIN metrics served"
    else
        fail "Broker $ADMIN metrics not served (http://$ADMIN/metrics)"
    fi
done

# 5. A record produced with acks=all is read back at its offset.
REPLICAS=$((ALIVE < 3 ? (ALIVE < 1 ? 1 : ALIVE) : 3))
streambus topic create "$TOPIC" --partitions 1 --replication-factor "$REPLICAS" --if-not-exists \
    --bootstrap "$BOOTSTRAP" --timeout "$TIMEOUT" >/dev/null 2>&1
TEST_MSG="{\"timestamp\": $(date +%s), \"health_check\": \"$(hostname)-$$-$RANDOM\"}"
STARTED=$(date +%s%N)
PRODUCED=$(streambus produce "$TOPIC" --partition 0 --value "$TEST_MSG" --bootstrap "$BOOTSTRAP" --timeout "$TIMEOUT" 2>&1)
OFFSET=$(sed -n 's/^partition 0 offset \([0-9][0-9]*\)$/\1/p' <<<"$PRODUCED")
if [ -n "$OFFSET" ]; then
    pass "Produce successful (partition 0 offset $OFFSET)"
    CONSUMED=$(streambus consume "$TOPIC" --partition 0 --offset "$OFFSET" --limit 1 --idle-timeout "$TIMEOUT" \
        --bootstrap "$BOOTSTRAP" 2>&1)
    if grep -qF "$TEST_MSG" <<<"$CONSUMED"; then
        pass "Consume successful (round trip $((($(date +%s%N) - STARTED) / 1000000)) ms, CLI start-up included)"
    else
        fail "Consume failed: the record at offset $OFFSET did not come back"
    fi
else
    fail "Produce failed: $(head -1 <<<"$PRODUCED")"
    fail "Consume skipped: nothing was produced"
fi

# Summary
echo
echo "=== Results: $PASS passed, $FAIL failed ==="
if [ "$FAIL" -eq 0 ]; then
    echo "Status: HEALTHY ✓"
    exit 0
else
    echo "Status: DEGRADED ✗"
    exit 1
fi

#!/usr/bin/env bash
# Memory with a changing fleet: waves of devices that each send one UDP
# message and go quiet, against a release sinkd whose store forgets idle
# streams (`[storage] stream_idle_timeout`). Prints, after each wave and
# again once the wave has gone quiet, the streams held
# (sinkd_store_open_streams) and the process's RSS and peak RSS.
#
#   load-tests/idle-streams.sh [TIMEOUT] [WAVES] [DEVICES_PER_WAVE]
#   load-tests/idle-streams.sh 15s 3 50000     # forgets after 15 s
#   load-tests/idle-streams.sh 0 3 50000       # keeps every stream
#
# Each wave's devices have new names, so with TIMEOUT 0 the streams held
# grow with every wave and with a timeout they fall back to 0 between
# waves. Traffic goes to 127.0.0.1 only; the run is bounded by the
# arguments (one message per device). Needs python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

TIMEOUT="${1:-15s}"
WAVES="${2:-3}"
DEVICES="${3:-50000}"
UDP_PORT="${UDP_PORT:-25514}"
HTTP_PORT="${HTTP_PORT:-29514}"
# Quiet time after each wave: the timeout plus the writers' check period.
QUIET="${QUIET:-25}"

cargo build --release --locked -q -p sinkd
work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/sinkd.toml" <<EOF
data_dir = "$work/data"
metrics = "127.0.0.1:$HTTP_PORT"

[[listen]]
transport = "udp"
address = "127.0.0.1:$UDP_PORT"

[storage]
stream_idle_timeout = "$TIMEOUT"

[[sink]]
name = "messages"
target = "file {device}/messages"
priority = "*.*"
EOF

target/release/sinkd --config "$work/sinkd.toml" >"$work/sinkd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
    sleep 0.1
done

report() {
    local streams received
    streams=$(curl -s "127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "sinkd_store_open_streams" { print $2 }')
    received=$(curl -s "127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "sinkd_messages_received_total{transport=\"udp\"}" { print $2 }')
    local rss hwm
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
    awk -v what="$1" -v received="$received" -v streams="$streams" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
        printf "%-22s received %8s  streams held %7s  RSS %6.1f MiB  peak %6.1f MiB\n", what, received, streams, rss / 1024, hwm / 1024
    }'
}

echo "stream_idle_timeout = $TIMEOUT, $WAVES waves of $DEVICES devices, one UDP message each"
for wave in $(seq "$WAVES"); do
    # Paced (200 datagrams, then 4 ms) so the socket buffer never overflows.
    python3 - "$wave" "$DEVICES" "$UDP_PORT" <<'PY'
import socket, sys, time
wave, count, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    line = f"<13>Dec  4 18:00:00 w{wave}-{i:06d} app[1]: the only message of this device"
    sock.sendto(line.encode(), ("127.0.0.1", port))
    if i % 200 == 199:
        time.sleep(0.004)
PY
    sleep 2
    report "wave $wave sent"
    sleep "$QUIET"
    report "wave $wave +${QUIET}s"
done

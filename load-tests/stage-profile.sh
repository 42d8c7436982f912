#!/usr/bin/env bash
# Where sinkd's CPU goes per message, by stage of the message path.
#
#   load-tests/stage-profile.sh [--sinkd BIN] [--load BIN] [--transport udp|tcp]
#       [--framing lf|octet-counting] [--devices N] [--count N] [--work-dir DIR]
#
# Runs one sinkd (one worker, pinned to CPU 1; `*.notice;auth.*` to
# `file {device}`, fsync never, as sinkd-compare configures it) and
# sinkd-load pinned to CPU 0. After a warm-up that creates every device's
# files, it sends COUNT messages twice: once to measure the server's CPU per
# message sent (utime + stime from /proc), once under `perf record -g` for
# the shares. Each stage's nanoseconds are its share of the samples times
# the first run's CPU per message, so perf's own overhead is not counted.
# Stages and how samples are assigned: load-tests/stage-profile.py.
# Needs perf, python3 and taskset; run as root (perf on another process).
set -euo pipefail
cd "$(dirname "$0")/.."

sinkd=target/release/sinkd
load=target/release/sinkd-load
transport=tcp
framing=lf
devices=1000
count=1000000
work=/tmp/sinkd-stage-profile
while [ $# -gt 0 ]; do
    case "$1" in
        --sinkd) sinkd="$2"; shift 2 ;;
        --load) load="$2"; shift 2 ;;
        --transport) transport="$2"; shift 2 ;;
        --framing) framing="$2"; shift 2 ;;
        --devices) devices="$2"; shift 2 ;;
        --count) count="$2"; shift 2 ;;
        --work-dir) work="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for tool in perf python3 taskset; do
    command -v "$tool" >/dev/null || { echo "stage-profile.sh needs $tool" >&2; exit 2; }
done

rm -rf "$work"
mkdir -p "$work/out"
port=$((20000 + RANDOM % 20000))
cat >"$work/sinkd.toml" <<CONF
workers = 1
data_dir = "$work/out"
metrics = "off"

[[listen]]
transport = "$transport"
address = "127.0.0.1:$port"

[[sink]]
name = "messages"
target = "file {device}"
priority = "*.notice;auth.*"
format = "rfc3164"

[storage]
fsync = "never"
rotate_size = "1G"
CONF

SINKD_LOG=warn taskset -c 1 "$sinkd" --config "$work/sinkd.toml" >"$work/sinkd.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if ss -Hlntu "sport = :$port" | grep -q .; then break; fi
    sleep 0.1
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
# Waits until the server has used no CPU for half a second (at most 60 s).
settle() {
    local last now
    last=$(cpu_ticks)
    for _ in $(seq 120); do
        sleep 0.5
        now=$(cpu_ticks)
        [ "$now" = "$last" ] && return 0
        last=$now
    done
}
send() {
    taskset -c 0 "$load" --target "127.0.0.1:$port" --transport "$transport" \
        --framing "$framing" --devices "$devices" --count "$1" --duration 60 >/dev/null
}

send 300000
settle
before=$(cpu_ticks)
send "$count"
settle
after=$(cpu_ticks)
hz=$(getconf CLK_TCK)
ns=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$count" 'BEGIN { printf "%.0f", t / hz / n * 1e9 }')

perf record -q -F 4999 -g -p "$pid" -o "$work/perf.data" 2>/dev/null &
perf_pid=$!
sleep 0.5
send "$count"
settle
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true

echo "sinkd stage profile: $transport ($framing), $devices devices, $count messages, one worker"
echo "server CPU per message sent (without perf): $ns ns"
[ -n "${KEEP_PERF:-}" ] && cp "$work/perf.data" "$KEEP_PERF"
perf script -i "$work/perf.data" -F comm,ip,sym 2>/dev/null \
    | python3 load-tests/stage-profile.py "$ns"

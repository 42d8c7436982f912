#!/usr/bin/env bash
# Steady-state cost of sinkd per device count: one sinkd process, a first
# run of COUNT TCP messages creates every device's files, then the CPU time
# of a second run over the same devices is measured, per thread.
#
#   load-tests/steady-state.sh [--work-dir DIR] [--count N] [--repeat R]
#                              [--max-buffered SIZE] [--flush-interval DURATION]
#                              DEVICES...
#
# Prints one line per run: devices, CPU seconds per million messages in
# (total and per thread), peak RSS. With --repeat the device counts take
# turns (100, 10000, 100, 10000, ...), so that a slow spell of the machine
# does not fall on one count only, and a last line gives each count's
# median and its rate as a share of the first count's. sinkd runs on CPU 0
# and sinkd-load on CPU 1 when the machine has two or more, as
# sinkd-compare does. Needs
# target/release/{sinkd,sinkd-load} (cargo build --release -p sinkd -p
# sinkd-load-tests) and curl; SINKD=path measures another sinkd binary (A/B).
# See docs/performance.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work_dir=/tmp/sinkd-steady
count=1000000
repeat=1
max_buffered=
flush_interval=
devices=()
while [ $# -gt 0 ]; do
  case $1 in
    --work-dir) work_dir=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --max-buffered) max_buffered=$2; shift 2 ;;
    --flush-interval) flush_interval=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) devices+=("$1"); shift ;;
  esac
done
[ ${#devices[@]} -gt 0 ] || devices=(100 10000)

sinkd=${SINKD:-$root/target/release/sinkd}
load=$root/target/release/sinkd-load
for binary in "$sinkd" "$load"; do
  [ -x "$binary" ] || { echo "missing $binary: cargo build --release -p sinkd -p sinkd-load-tests" >&2; exit 1; }
done
server_cpu=(); load_cpu=()
if [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 0); load_cpu=(taskset -c 1); fi

# a loopback TCP port nothing answers on, below the ephemeral range (where
# a client socket in TIME_WAIT could still hold it)
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
port() {
  local candidate
  while :; do
    candidate=$(shuf -i "10000-$((ephemeral_low - 1))" -n 1)
    (: > "/dev/tcp/127.0.0.1/$candidate") 2> /dev/null || { echo "$candidate"; return; }
  done
}

# lines written so far, from the metrics endpoint
written() { curl -sf "http://127.0.0.1:$metrics/metrics" | awk '$1 == "sinkd_store_lines_written_total" { print $2 }'; }

# waits (at most 60 s) until at least $1 lines are written and the count has
# stopped moving
settle() {
  local want=$1 last=-1 now
  for _ in $(seq 600); do
    now=$(written || echo 0)
    if [ "${now:-0}" -ge "$want" ] && [ "$now" = "$last" ]; then return 0; fi
    last=$now
    sleep 0.1
  done
  echo "sinkd did not write $want lines within 60 s" >&2
  return 1
}

# per-thread CPU time of process $1 in nanoseconds (schedstat, exact where
# the stat file's ticks are 10 ms), "name ns" per line, sorted
threads() {
  for task in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr -d ' ' < "$task"/comm)" "$(cut -d' ' -f1 "$task"/schedstat)"
  done | sort
}

send() {
  "${load_cpu[@]}" "$load" --target "127.0.0.1:$listen" --transport tcp --count "$count" \
    --devices "$1" --seed 1 --duration 120 --json > /dev/null
}

mkdir -p "$work_dir"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$repeat"); do
  for n in "${devices[@]}"; do
    run=$(mktemp -d "$work_dir/run.XXXXXX")
    listen=$(port); metrics=$(port)
    cat > "$run/sinkd.toml" <<EOF
data_dir = "$run/data"
metrics = "127.0.0.1:$metrics"

[[listen]]
transport = "tcp"
address = "127.0.0.1:$listen"

[[sink]]
target = "file {device}"
priority = "*.notice;auth.*"
format = "rfc3164"

[storage]
fsync = "never"
rotate_size = "1G"
max_open_files = $((n + 256))
${max_buffered:+max_buffered = \"$max_buffered\"}
${flush_interval:+flush_interval = \"$flush_interval\"}
EOF
    "${server_cpu[@]}" "$sinkd" --config "$run/sinkd.toml" > "$run/sinkd.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do written > /dev/null 2>&1 && break; sleep 0.1; done
    send "$n"
    settle 1
    first=$(written)
    threads "$pid" > "$run/before"
    send "$n"
    settle $((first * 2))
    threads "$pid" > "$run/after"
    rss=$(awk '/VmHWM/ { print $2 }' /proc/"$pid"/status)
    kill -TERM "$pid"; wait "$pid" || true
    join "$run/before" "$run/after" | awk -v n="$n" -v count="$count" -v rss="$rss" '
      { d = ($3 - $2) / 1e9 * 1e6 / count; total += d; if (d >= 0.005) parts = parts sprintf(" %s=%.3f", $1, d) }
      END { printf "devices=%d cpu_s_per_1M=%.3f [%s ] peak_rss=%.1fMiB\n", n, total, parts, rss / 1024 }' \
      | tee -a "$results"
    rm -rf "$run"
    # the next run starts once this one's output and deletion are on disk,
    # not while the kernel's writeback threads are still busy with them
    sync
  done
done

# medians per device count, in the order given, and each one's share of the
# first count's rate (its CPU per message over theirs)
if [ "$repeat" -gt 1 ]; then
  for n in "${devices[@]}"; do
    awk -v n="$n" -F'[= ]' '$2 == n { print $4 }' "$results" | sort -n \
      | awk -v n="$n" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print n, m }'
  done | awk '
    NR == 1 { base = $2 }
    { line = line sprintf(" devices=%s median=%.3f", $1, $2); if (NR > 1) line = line sprintf(" (%.0f%% of the %s-device rate)", 100 * base / $2, first) }
    NR == 1 { first = $1 }
    END { print "medians:" line }'
fi

#!/usr/bin/env bash
# RELP against TCP-LF from the same rsyslogd into one sinkd (release
# build): N numbered lines go into rsyslog's imtcp, one ruleset forwards
# them with omfwd (TCP, LF framing), the other with omrelp; each run is
# timed from the first line sent until sinkd's store has written all N
# (sinkd_store_lines_written_total), with the CPU seconds sinkd and
# rsyslogd spent meanwhile. Then one RELP session with one message in
# flight measures the answer latency (send to `rsp 200`).
#
#   N       messages per run (default 1000000)
#   ORDER   runs, in order (default "tcp relp")
#   WINDOW  omrelp windowSize (default 4096: above rsyslog's dequeue batch
#           of 1024; librelp corks its socket for a whole batch, so a
#           window smaller than the batch stalls 200 ms per window)
#   SINKD   the binary (default target/release/sinkd)
#
# Needs rsyslog and rsyslog-relp. Ports 19600-19612 on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
WINDOW=${WINDOW:-4096}
SINKD=${SINKD:-$PWD/target/release/sinkd}
D=$(mktemp -d /tmp/sinkd-relp-bench.XXXXXX)
mkdir -p "$D/work"
cat > "$D/sinkd.toml" <<CONF
data_dir = "$D/data"
metrics = "127.0.0.1:19600"
[[listen]]
transport = "tcp"
address = "127.0.0.1:19601"
framing = "lf"
[[listen]]
transport = "relp"
address = "127.0.0.1:19602"
[[sink]]
target = "file {device}/messages"
CONF
cat > "$D/rs.conf" <<CONF
global(workDirectory="$D/work" maxMessageSize="8k")
module(load="imtcp")
module(load="omrelp")
main_queue(queue.size="2000000" queue.dequeueBatchSize="1024")
ruleset(name="tcp") { action(type="omfwd" target="127.0.0.1" port="19601" protocol="tcp" action.resumeRetryCount="-1" action.resumeInterval="1") }
ruleset(name="relp") { action(type="omrelp" target="127.0.0.1" port="19602" windowSize="$WINDOW" action.resumeRetryCount="-1" action.resumeInterval="1") }
input(type="imtcp" port="19611" address="127.0.0.1" ruleset="tcp")
input(type="imtcp" port="19612" address="127.0.0.1" ruleset="relp")
CONF
SINKD_LOG=warn "$SINKD" --config "$D/sinkd.toml" 2>"$D/sinkd.log" & SPID=$!
/usr/sbin/rsyslogd -n -f "$D/rs.conf" -i "$D/rs.pid" 2>"$D/rs.log" & RPID=$!
trap 'kill $SPID $RPID 2>/dev/null || true; wait 2>/dev/null; rm -rf "$D"' EXIT
sleep 2
written() { curl -s 127.0.0.1:19600/metrics | awk '$1=="sinkd_store_lines_written_total"{print $2}'; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
base=0
for t in ${ORDER:-tcp relp}; do
    port=$([ "$t" = tcp ] && echo 19611 || echo 19612)
    start=$(date +%s.%N); s0=$(cpu $SPID); r0=$(cpu $RPID)
    python3 - "$port" "$N" "$t-bench" <<'PY'
import socket, sys
port, n, dev = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
s = socket.create_connection(("127.0.0.1", port))
for first in range(0, n, 100000):
    s.sendall(b"".join(b"<13>Mar  8 09:15:32 %s app: message number %d with some text to make it a typical length\n" % (dev, i) for i in range(first, min(n, first + 100000))))
s.close()
PY
    while :; do v=$(written); v=${v:-0}; [ "${v%.*}" -ge "$((base + N))" ] && break; sleep 0.02; done
    end=$(date +%s.%N); s1=$(cpu $SPID); r1=$(cpu $RPID)
    base=$((base + N))
    python3 -c "print('$t: %d messages, %.0f msg/s (%.2f s); CPU sinkd %.2f s, rsyslogd %.2f s' % ($N, $N/($end-$start), $end-$start, ($s1-$s0)/100, ($r1-$r0)/100))"
done
python3 - 19602 2000 <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
def answer():
    fields, field = [], b""
    while len(fields) < 3:
        byte = f.read(1)
        if byte in (b" ", b"\n") and field:
            fields.append(field); field = b""
            if byte == b"\n":
                break
        else:
            field += byte
    if int(fields[2]):
        f.read(int(fields[2]) + 1)
def command(txnr, name, data):
    s.sendall(b"%d %s %d %s\n" % (txnr, name, len(data), data))
command(1, b"open", b"relp_version=0\ncommands=syslog"); answer()
waits = []
for i in range(n):
    t = time.perf_counter()
    command(i + 2, b"syslog", b"<13>Mar  8 09:15:32 latency app: m%d" % i)
    answer()
    waits.append(time.perf_counter() - t)
waits.sort()
print("relp answer latency, one message in flight: median %.3f ms, p99 %.3f ms, max %.3f ms (%d messages)" % (waits[n // 2] * 1e3, waits[n * 99 // 100] * 1e3, waits[-1] * 1e3, n))
PY

#!/usr/bin/env bash
# Differential conformance: what rsyslog and syslog-ng make of the same
# messages. Reads the conformance corpus (JSON lines with a "raw" key,
# crates/sinkd-proto/tests/data/conformance.jsonl by default) or, with
# --lines, a file of raw messages one per line; sends every message as one
# loopback UDP datagram (so that framing detection, such as rsyslog's
# octet counting for a message starting with a digit, plays no part) to
#   - rsyslog (imudp, its default parser chain: RFC 5424, then RFC 3164),
#   - syslog-ng network() with its default RFC 3164 parser, and
#   - syslog-ng network() with flags(syslog-protocol) (its RFC 5424 parser),
# each writing the fields it extracted through a JSON template; and prints
# one JSON object per message on stdout:
#   {"raw": ..., "rsyslog": {...}, "syslog_ng": {...}, "syslog_ng_5424": {...}}
# Field names follow `sinkd parse` where there is an equivalent (hostname,
# app_name, procid, msgid, structured_data, msg, timestamp); rsyslog also
# gives its "tag" (syslogtag) and syslog-ng its "legacy_header".
# The answers are matched to the messages by the raw message each peer
# saw; a peer that does not answer for a message within the deadline gets
# null.
#
# The peers run in the foreground on ports 15514-15516 of 127.0.0.1 with
# their own config and state under a temporary directory; nothing touches a
# system service. Install them with load-tests/install-peers.sh.
#
# Usage: load-tests/conformance/peers.sh [--lines FILE | CORPUS.jsonl] > peers.jsonl
# Then score.jq (next to this script) gives each peer's agreement with the
# corpus's expected fields:
#   jq -n -f load-tests/conformance/score.jq \
#     --slurpfile corpus crates/sinkd-proto/tests/data/conformance.jsonl \
#     --slurpfile peers peers.jsonl
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
corpus="$here/../../crates/sinkd-proto/tests/data/conformance.jsonl"
mode=jsonl
if [ "${1:-}" = "--lines" ]; then mode=lines; corpus="$2"; elif [ -n "${1:-}" ]; then corpus="$1"; fi
ng_root="${SINKD_SYSLOG_NG_ROOT:-/opt/sinkd-peers/syslog-ng}"
rsyslogd="${RSYSLOGD:-/usr/sbin/rsyslogd}"
port_rs=15514 port_ng=15515 port_ng5424=15516

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The messages, one per line, without embedded LF (the corpus has none).
if [ "$mode" = jsonl ]; then
    jq -r 'select(.raw != null) | .raw' "$corpus" > "$work/input"
else
    grep -v '^#' "$corpus" | grep -v '^$' > "$work/input" || true
fi
count=$(wc -l < "$work/input")

cat > "$work/rsyslog.conf" <<CONF
global(workDirectory="$work" maxMessageSize="64k")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$port_rs" ruleset="out")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="raw" name="rawmsg" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="tag" name="syslogtag" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="out") { action(type="omfile" file="$work/rsyslog.out" template="fields") }
CONF

modules="$(ls -d "$ng_root"/usr/lib/syslog-ng/3* | head -n1)"
cat > "$work/syslog-ng.conf" <<CONF
@version: ${modules##*/}
options { keep-hostname(yes); chain-hostnames(no); use-dns(no); use-fqdn(no);
  stats-freq(0); mark-freq(0); frac-digits(6); keep-timestamp(yes); log-msg-size(65536); };
source s_legacy { network(ip("127.0.0.1") port($port_ng) transport("udp") flags(store-raw-message)); };
source s_5424 { network(ip("127.0.0.1") port($port_ng5424) transport("udp") flags(syslog-protocol, store-raw-message)); };
template t_fields { template("\$(format-json --scope none raw=\${RAWMSG} pri=\${PRI} timestamp=\${S_ISODATE} hostname=\${HOST} app_name=\${PROGRAM} procid=\${PID} msgid=\${MSGID} structured_data=\${SDATA} msg=\${MSG} legacy_header=\${LEGACY_MSGHDR})\n"); };
destination d_legacy { file("$work/syslog-ng.out" template(t_fields)); };
destination d_5424 { file("$work/syslog-ng-5424.out" template(t_fields)); };
log { source(s_legacy); destination(d_legacy); };
log { source(s_5424); destination(d_5424); };
CONF

"$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" 2> "$work/rsyslog.err" &
pids+=($!)
LD_LIBRARY_PATH="$ng_root/usr/lib/syslog-ng" "$ng_root/usr/sbin/syslog-ng" -F --no-caps \
    -f "$work/syslog-ng.conf" -p "$work/syslog-ng.pid" -R "$work/syslog-ng.persist" \
    -c "$work/syslog-ng.ctl" --module-path="$modules" 2> "$work/syslog-ng.err" &
pids+=($!)

# Waits (up to 10 s) until a UDP port is bound on 127.0.0.1.
wait_port() {
    local hex
    hex=$(printf ':%04X ' "$1")
    for _ in $(seq 100); do
        if grep -q "0100007F$hex" /proc/net/udp; then return 0; fi
        sleep 0.1
    done
    echo "peers.sh: nothing listens on UDP port $1" >&2
    return 1
}
# Sends every input line as one datagram.
send() {
    while IFS= read -r line; do
        printf '%s' "$line" > "/dev/udp/127.0.0.1/$1"
    done < "$work/input"
}
# Waits (up to 20 s) until a file has the expected number of lines.
wait_lines() {
    for _ in $(seq 200); do
        if [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$count" ]; then return 0; fi
        sleep 0.1
    done
    echo "peers.sh: $1 has $( [ -f "$1" ] && wc -l < "$1" || echo 0) of $count lines" >&2
}
for port in $port_rs $port_ng $port_ng5424; do wait_port "$port"; done
send $port_rs
send $port_ng
send $port_ng5424
wait_lines "$work/rsyslog.out"
wait_lines "$work/syslog-ng.out"
wait_lines "$work/syslog-ng-5424.out"

# Join by the raw message each peer reports.
jq -cn --rawfile input "$work/input" \
    --slurpfile rs <(cat "$work/rsyslog.out" 2>/dev/null || true) \
    --slurpfile ng <(cat "$work/syslog-ng.out" 2>/dev/null || true) \
    --slurpfile ng5 <(cat "$work/syslog-ng-5424.out" 2>/dev/null || true) '
    ($input | rtrimstr("\n") | split("\n")) as $lines
    | def by_raw: map({key: .raw, value: .}) | from_entries;
      ($rs | by_raw) as $rs | ($ng | by_raw) as $ng | ($ng5 | by_raw) as $ng5
    | $lines[]
    | {raw: ., rsyslog: $rs[.], syslog_ng: $ng[.], syslog_ng_5424: $ng5[.]}'

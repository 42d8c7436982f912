#!/usr/bin/env bash
# Instructions per message through sinkd's message path, by stage, counted
# by callgrind over a fixed run (benches/icount.rs): the same input gives
# the same count on a busy machine or a quiet one, so a change's cost shows
# as a number, not a noisy time. Needs valgrind (Debian: valgrind).
#
#   benches/icount.sh                 # 100,000 messages, 100 and 10,000 devices
#   MESSAGES=20000 benches/icount.sh
#   WRITERS=4 DEVICES=1000 benches/icount.sh   # batches split over 4 store writers
#
# Prints one table per device count: instructions per message for the copy
# into the receive batch, the worker (and within it parsing, formatting and
# the stream path), and the store writer (appending, and writing buffers
# out; its idle waiting is not counted).
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES="${MESSAGES:-100000}"
DEVICES="${DEVICES:-100 10000}"
WRITERS="${WRITERS:-1}"

command -v valgrind >/dev/null || { echo "icount.sh needs valgrind (apt-get install valgrind)" >&2; exit 2; }
cargo build --release --locked -q -p sinkd-benches --bin sinkd-icount
bin=target/release/sinkd-icount
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Inclusive instructions of the first function whose name ends with $2 in
# the annotated profile $1 (0 when it does not appear).
inclusive() {
    grep -F -- "$2 [" "$1" | head -n1 | awk '{ gsub(",", "", $1); print $1 + 0 }' || echo 0
}

per_message() {
    awk -v n="$1" -v m="$MESSAGES" 'BEGIN { printf "%8.0f", n / m }'
}

echo "sinkd-icount: $MESSAGES messages per run, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for devices in $DEVICES; do
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$devices" \
        "$bin" --messages "$MESSAGES" --devices "$devices" --writers "$WRITERS" >/dev/null 2>"$work/valgrind.$devices" \
        || { cat "$work/valgrind.$devices" >&2; exit 1; }
    callgrind_annotate --inclusive=yes --threshold=100 "$work/cg.$devices" >"$work/annotated.$devices" 2>/dev/null
    a="$work/annotated.$devices"
    push=$(inclusive "$a" "sinkd_listen::batch::RawBatch::push")
    worker=$(inclusive "$a" "sinkd_worker::worker::Worker::process")
    parse=$(inclusive "$a" "sinkd_proto::parse")
    format=$(inclusive "$a" "sinkd_proto::format::write_escaped")
    path=$(inclusive "$a" "sinkd_store::path::PathTemplate::expand_into")
    submit=$(inclusive "$a" "sinkd_store::store::StoreWriter::submit")
    append=$(inclusive "$a" "sinkd_store::writer::Writer>::handle_batch")
    flush=$(inclusive "$a" "sinkd_store::writer::Writer>::flush_dirty_older")
    writer=$((append + flush))
    total=$((push + worker + writer))
    echo
    echo "$devices devices, $WRITERS store writer(s) (instructions per message)"
    echo "  copy into the receive batch  $(per_message "$push")"
    echo "  worker                       $(per_message "$worker")"
    echo "    parse                      $(per_message "$parse")"
    echo "    format (write_escaped)     $(per_message "$format")"
    echo "    stream path                $(per_message "$path")"
    echo "    submit to the writers      $(per_message "$submit")"
    echo "    route, key, batch, rest    $(per_message $((worker - parse - format - path - submit)))"
    echo "  store writer                 $(per_message "$writer")"
    echo "    append (and full buffers)  $(per_message "$append")"
    echo "    write by age, at the end   $(per_message "$flush")"
    echo "  total                        $(per_message "$total")"
done

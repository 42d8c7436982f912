#!/usr/bin/env python3
"""Splits the samples of `perf script` (one sinkd process, call graphs) into
the stages of sinkd's message path and prints each stage's share.

Used by load-tests/stage-profile.sh. A sample belongs to the first stage
function found walking its call chain from the thread's root towards the
leaf (so what parsing calls counts as parsing); samples of a thread with
no stage function count for that thread's own stage (the receive thread's
kernel work is "receive", the writer's is "write").
"""

import re
import sys
from collections import Counter

# (stage, pattern on the symbol), checked root to leaf; first hit wins.
STAGES = [
    ("copy into the batch", re.compile(r"sinkd_listen::batch::RawBatch::push")),
    ("deframe", re.compile(r"sinkd_proto::framing")),
    ("parse", re.compile(r"sinkd_proto::(parse|rfc5424|rfc3164|sd|pri)")),
    ("format", re.compile(r"sinkd_proto::format")),
    ("stream path", re.compile(r"sinkd_store::path")),
    ("submit to the store", re.compile(r"sinkd_store::store::StoreWriter")),
    ("device tracking", re.compile(r"sinkd_worker::devices")),
    ("route and time", re.compile(r"sinkd_route|sinkd_worker::zone|stored_time_micros")),
    ("write", re.compile(r"sinkd_store::writer::flush|writev|Writer.*flush")),
    ("append", re.compile(r"sinkd_store::writer|sinkd_store::chunks|sinkd_store::key")),
]

# What a thread's samples count as when no stage function is on the stack.
def thread_stage(comm):
    if comm.startswith("sinkd-udp"):
        return "receive"
    if comm.startswith("sinkd-io"):
        return "receive"
    if comm.startswith("sinkd-worker"):
        return "worker, other"
    if comm.startswith("sinkd-store-w"):
        return "writer, other"
    return "other threads"

ORDER = [
    "receive", "copy into the batch", "deframe", "parse", "route and time",
    "format", "stream path", "device tracking", "submit to the store",
    "worker, other", "append", "write", "writer, other", "other threads",
]

def main():
    counts = Counter()
    leaves = {name: Counter() for name in ORDER}
    comm = None
    frames = []

    def finish():
        if comm is None:
            return
        hits = []
        for symbol in reversed(frames):
            for name, pattern in STAGES:
                if pattern.search(symbol):
                    hits.append(name)
                    break
        # Writing out a full buffer happens inside appending: a write
        # anywhere on the stack makes the sample a write.
        if "write" in hits:
            stage = "write"
        elif hits:
            stage = hits[0]
        else:
            stage = thread_stage(comm)
        counts[stage] += 1
        if frames:
            leaves[stage][frames[0]] += 1

    for line in sys.stdin:
        if not line.strip():
            finish()
            comm, frames = None, []
            continue
        if not line[0].isspace():
            finish()
            comm = line.split()[0]
            frames = []
        else:
            parts = line.split(None, 1)
            if len(parts) == 2:
                frames.append(parts[1].strip().rsplit(" (", 1)[0])
    finish()
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples")
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    cpu_per_message_ns = float(numbers[0]) if numbers else 0.0
    print(f"{'stage':<22} {'share':>7} {'ns/message':>11}")
    for name in ORDER:
        share = counts[name] / total
        if counts[name] == 0:
            continue
        print(f"{name:<22} {share:>6.1%} {share * cpu_per_message_ns:>11.0f}")
    print(f"{'total':<22} {1:>6.0%} {cpu_per_message_ns:>11.0f}  ({total} samples)")
    if "--leaves" in sys.argv:
        for name in ORDER:
            if counts[name] == 0:
                continue
            print(f"\n{name}: hottest leaf functions")
            for symbol, n in leaves[name].most_common(8):
                print(f"  {n / total:6.1%}  {symbol[:110]}")

if __name__ == "__main__":
    main()

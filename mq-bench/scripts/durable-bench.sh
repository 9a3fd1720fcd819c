#!/usr/bin/env bash
# Durable send throughput and latency (issue 6, "Performance"): builds mq-bench and runs
# dev.rill.bench.durable.DurableSendBench once per fsync policy (always, interval, never), each with 100-byte and
# 4 KiB payloads, 4 producer threads x 64 sends in flight, one queue, no consumer; then prints one table.
# A send counts when DurableBroker.whenDurable(lastSeq) completes, which is what Rill.embedded's send Mono waits for.
# Each run also reopens the log it wrote and reports the replay ("open") and rebuild times.
#
# Usage: mq-bench/scripts/durable-bench.sh [messages at 100 B, default 500000] [messages at 4 KiB, default 100000]
# Environment:
#   RILL_BENCH_DIR        parent of the data directories (default mq-bench/target/durable-bench; it must be on
#                         the disk being measured: a tmpfs makes fsync free)
#   RILL_BENCH_INTERVAL   the interval policy's fsync interval in ms (default 100)
#   RILL_BENCH_PRODUCERS  producer threads (default 4)
#   RILL_BENCH_IN_FLIGHT  sends in flight per producer (default 64)
#   RILL_BENCH_SKIP_BUILD set to 1 to reuse mq-bench/target/benchmarks.jar
#   JAVA_OPTS             JVM options (default -Xmx3g: the queue keeps every payload, there is no consumer)
# Output: the table on stdout; each run's raw output under mq-bench/target/bench-results/durable-<time>/.
set -euo pipefail

cd "$(dirname "$0")/../.."

n100=${1:-500000}
n4k=${2:-100000}
interval=${RILL_BENCH_INTERVAL:-100}
producers=${RILL_BENCH_PRODUCERS:-4}
in_flight=${RILL_BENCH_IN_FLIGHT:-64}
data_parent=${RILL_BENCH_DIR:-mq-bench/target/durable-bench}
java_opts=${JAVA_OPTS:--Xmx3g}

for n in "$n100" "$n4k" "$interval" "$producers" "$in_flight"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "durable-bench: '$n' is not a positive number (usage: $0 [messages at 100 B] [messages at 4 KiB])" >&2
        exit 2
    fi
done

if [[ ${RILL_BENCH_SKIP_BUILD:-0} != 1 ]]; then
    echo "building mq-bench (./mvnw -q -pl mq-bench -am -DskipTests package) ..." >&2
    ./mvnw -q -pl mq-bench -am -DskipTests package >&2
fi
jar=mq-bench/target/benchmarks.jar
if [[ ! -f $jar ]]; then
    echo "durable-bench: $jar is missing (build it, or unset RILL_BENCH_SKIP_BUILD)" >&2
    exit 1
fi

out=mq-bench/target/bench-results/durable-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" "$data_parent"
# run from a private copy: another build of mq-bench during the runs must not swap classes under the JVMs
cp "$jar" "$out/benchmarks.jar"
jar=$out/benchmarks.jar

policies=(always "interval:$interval" never)
for p in "${policies[@]}"; do
    echo "running fsync $p: $n100 x 100 B, $n4k x 4 KiB ..." >&2
    # shellcheck disable=SC2086 # JAVA_OPTS holds several words on purpose
    java $java_opts -cp "$jar" dev.rill.bench.durable.DurableSendBench "$data_parent" "$n100" "$n4k" \
        "$producers" "$in_flight" "$p" >"$out/${p/:/-}.txt" 2>&1 || {
        echo "durable-bench: the run for fsync $p failed; its output:" >&2
        cat "$out/${p/:/-}.txt" >&2
        exit 1
    }
done

# every run prints its setup line, a header line, then one row per payload size
first=$out/${policies[0]/:/-}.txt
echo
echo "Durable send, $(grep -m1 '^setup:' "$first" | sed 's/^setup: //')"
echo "(latency: from the send call until the record is durable under the policy; rec/fsync: records per fsync;"
echo " open/rebuild: replay of the log just written and rebuild of the queue; $(uname -sr), $(nproc) cpus)"
echo
grep -m1 -E '^policy ' "$first"
for p in "${policies[@]}"; do
    grep -E '^(ALWAYS|INTERVAL|NEVER)' "$out/${p/:/-}.txt"
done
if grep -q 'FAILURES=' "$out"/*.txt; then
    echo "durable-bench: some sends failed (see FAILURES= above)" >&2
    exit 1
fi
echo
echo "Raw output in $out"

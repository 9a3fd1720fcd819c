#!/usr/bin/env bash
# Core performance figures (issue 3, "Performance"): end-to-end throughput of MessageQueue send -> receive -> ack
# against ArrayBlockingQueue / LinkedBlockingQueue put/take in the same run, then heap per queued message and
# 10M messages in a 2 GiB heap. Settings fit a 2-core machine (3 forks: see the regimes note in NOTES.md); the
# whole script takes about 8 minutes.
#
# Usage: mq-bench/scripts/core-bench.sh [extra JMH options, e.g. -p capacity=1024]
# Output: a table on stdout; JSON and text copies under mq-bench/target/bench-results/<time>/.
set -euo pipefail

cd "$(dirname "$0")/../.."

./mvnw -q -pl mq-bench -am -DskipTests package

jar=mq-bench/target/benchmarks.jar
out=mq-bench/target/bench-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

echo "== Throughput: 1 producer thread, 1 consumer thread, messages/s end to end (JMH; ratios vs ABQ of the same capacity)"
java -cp "$jar" dev.rill.bench.CoreBench \
    -f 3 -wi 2 -i 4 -w 1s -r 2s -prof gc \
    -rf json -rff "$out/core-throughput.json" \
    "$@" CoreThroughputBenchmark | tee "$out/core-throughput.txt"

echo
echo "== Memory: heap per queued message beyond the (shared) payload, 1M messages"
java -Xmx1g -cp "$jar" dev.rill.bench.MemoryFootprint 1000000 | tee "$out/memory-1m.txt"

echo
echo "== Memory: 10M queued messages in a 2 GiB heap (java -Xmx2g)"
java -Xmx2g -cp "$jar" dev.rill.bench.MemoryFootprint 10000000 | tee "$out/memory-10m.txt"

echo
echo "Results in $out"

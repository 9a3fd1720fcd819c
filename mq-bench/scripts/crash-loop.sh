#!/usr/bin/env bash
# Crash loop (issue 6): a child JVM runs a durable broker (fsync ALWAYS) under producer/consumer load and is killed
# with SIGKILL at a random moment, CYCLES times on one data directory; after each kill the log is recovered and
# checked (confirmed sends present unless an ack may have been issued, confirmed acks never back, no torn record
# visible). Runs dev.rill.reactive.CrashLoopTest with more cycles; prints the tally line.
#
# Usage: mq-bench/scripts/crash-loop.sh [cycles, default 200] [seed]
# About 1.3 s per cycle on a 2-core machine (JVM start + load + recovery).
set -euo pipefail

cd "$(dirname "$0")/../.."

cycles=${1:-200}
seed_opt=()
if [[ $# -ge 2 ]]; then
    seed_opt=("-Drill.crash.seed=$2")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
./mvnw -o -pl mq-reactive -am -Dsurefire.failIfNoSpecifiedTests=false -Dtest=CrashLoopTest \
    -Drill.crash.cycles="$cycles" "${seed_opt[@]}" test >"$log" 2>&1 || status=$?

grep -E '^crash-loop:' "$log" | tail -1 || true
if [[ $status -ne 0 ]]; then
    echo "FAILED (mvn exit $status); details:"
    grep -E 'cycle [0-9]+:|Tests run:|ERROR\]' "$log" | head -40
    exit "$status"
fi
echo "OK"

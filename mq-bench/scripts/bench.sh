#!/usr/bin/env bash
# The benchmark suite (issue 8): in-JVM reactive vs Reactor Sinks, then Rill over loopback vs RabbitMQ (classic,
# quorum), Redis Streams and NATS JetStream (memory, file), all in one run on this machine; then in-JVM scaling
# curves (queues, consumers, payload size, depth, delayed messages) and the client's memory under a slow consumer;
# and durable sends (issue 6): Rill with fsync ALWAYS / INTERVAL / NEVER, embedded and over the network, against
# RabbitMQ quorum queues with confirms, Redis Streams with AOF (everysec, always) and NATS JetStream file storage.
# Writes docs/benchmarks.md (tables of medians with min–max, machine facts, versions, date), raw JSON and the
# scaling charts (PNG) under docs/benchmarks/.
#
# Usage: mq-bench/scripts/bench.sh [quick|full]      quick (default) takes about 12 minutes.
# Rill runs twice in the networked part: consumed by flatMap(ack, 128) ("Rill") and by a QueuePipeline
# ("Rill (pipeline)"), each against the same peers; then two calibrations, never the fastest peer: the transport
# floor ("netty-relay": Rill's frames and threads on plain Netty, no broker) and the same frames over blocking
# sockets along Redis Streams' path ("blocking-relay").
# Environment: BENCH_PEERS to choose peers (default:
#              "rill netty-relay blocking-relay rabbit-classic rabbit-quorum redis nats-mem nats-file"),
#              BENCH_SKIP_REACTIVE=1 / BENCH_SKIP_NET=1 / BENCH_SKIP_DURABLE=1 / BENCH_SKIP_SCALING=1 /
#              BENCH_SKIP_MEMORY=1 to skip a part, BENCH_OUT to write elsewhere than docs/,
#              BENCH_DATA_DIR: where the data directories of every system go (default /var/tmp; it must be a real
#              disk, not tmpfs, where fsync costs nothing: the script refuses tmpfs and ramfs).
#
# Peers are installed from Debian packages when missing (apt-get update once), started as foreground processes on
# 127.0.0.1 with data directories under one temporary parent on BENCH_DATA_DIR and non-default ports, and stopped
# by PID at the end (never system services).
set -euo pipefail

profile=${1:-quick}
case "$profile" in quick|full) ;; *) echo "usage: $0 [quick|full]" >&2; exit 2 ;; esac

cd "$(dirname "$0")/../.."
root=$(pwd)
out=${BENCH_OUT:-$root/docs}
peers=${BENCH_PEERS:-"rill netty-relay blocking-relay rabbit-classic rabbit-quorum redis nats-mem nats-file"}
tmp=$(mktemp -d /tmp/rill-bench.XXXXXX)
frag=$tmp/fragments
mkdir -p "$frag"
pids=()
data_root=${BENCH_DATA_DIR:-/var/tmp}
mkdir -p "$data_root"
data=$(mktemp -d "$data_root/rill-bench-data.XXXXXX")

log() { echo "bench: $*" >&2; }

# Timer slack 1 ns (what prctl(PR_SET_TIMERSLACK, 1) does), set on this shell before anything starts: every JVM and
# every peer (Redis, NATS, RabbitMQ, epmd) started below inherits it, so it applies to all systems alike. The Linux
# default of 50 µs lets the kernel defer every timed sleep (parkNanos, epoll_wait/select timeouts, nanosleep) by up
# to that much, and the fixed-rate load generator sleeps until each message's intended send time: with the default
# its own wake-up lag (~70 µs) was inside every system's latency. Low-latency deployments lower it the same way.
slack_before=$(cat /proc/self/timerslack_ns 2>/dev/null || echo "?")
if { echo 1 >/proc/self/timerslack_ns; } 2>/dev/null; then
    timer_slack="1 ns for the benchmark and every system it starts (was $slack_before ns)"
else
    timer_slack="$slack_before ns (could not be lowered)"
fi

# Transparent huge pages for the heap of every JVM started below (the kernel here has THP in "madvise" mode,
# so a JVM gets them only when it asks). Measured on these machines (NOTES.md, "Huge pages"): the kernel's DAMON
# monitor (kdamond, physical-address mode, a sample every 500 ms) spends time in proportion to the 4 KiB pages
# mapped: a sleeping JVM with a 4 GiB heap cost it 40-60 ms of a vCPU per sample, 1.3 ms with huge pages, and Rill's
# two 1 GiB JVMs at 5k msg/s saw ~30 ms of no progress every ~0.5 s (p99 20 ms; Redis through the same bench JVM
# p99 3.5 ms). The bench JVM holds every peer's client, so the flag applies to all systems alike; Rill's server
# JVMs inherit it from the bench JVM. Production servers are advised the same (docs/operations.md).
jvm_flags=()
thp_mode=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "not available")
case "$thp_mode" in
    *"[always]"*|*"[madvise]"*) jvm_flags+=(-XX:+UseTransparentHugePages); huge_pages="transparent huge pages for every JVM's heap (-XX:+UseTransparentHugePages; kernel THP mode: $thp_mode)" ;;
    *) huge_pages="none (kernel THP mode: $thp_mode)" ;;
esac

stop_peers() {
    for pid in "${pids[@]:-}"; do
        [ -n "$pid" ] || continue
        # Each peer was started with setsid: its process group id is its pid; end that group only.
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]:-}"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    rm -rf "$tmp" "$data"
}
trap stop_peers EXIT

# Waits until 127.0.0.1:$1 accepts TCP connections, at most $2 seconds; fails if process $3 died.
wait_port() {
    local port=$1 limit=$2 pid=$3 start=$SECONDS
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { log "process $pid exited before port $port opened"; return 1; }
        (( SECONDS - start < limit )) || { log "port $port not open after ${limit}s"; return 1; }
        sleep 0.3
    done
}

wants() { [[ " $peers " == *" $1"* ]]; }

# True when nothing listens on 127.0.0.1:$1. Checked before starting a peer: another bench on this machine (another
# worktree) may hold the same fixed port, and wait_port would then take that other process for ours.
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        log "port $1 is already in use by another process: $2 not started, not measured"
        return 1
    fi
}

# The data directories' disk: fsync on tmpfs is free, so a durable figure measured there means nothing.
data_fs=$(df -PT "$data" | awk 'NR==2 {print $2}')
case "$data_fs" in
    tmpfs|ramfs) log "$data is on $data_fs: set BENCH_DATA_DIR to a directory on a real disk"; exit 2 ;;
esac
data_disk="\`$data\` on $(df -PhT "$data" | awk 'NR==2 {print $1 " (" $2 ", mounted on " $7 ", " $5 " available of " $3 ")"}'), mount options $(findmnt -no OPTIONS -T "$data" 2>/dev/null | cut -d, -f1-3)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
run_peers=0
{ [ "${BENCH_SKIP_NET:-0}" != 1 ] || [ "${BENCH_SKIP_DURABLE:-0}" != 1 ]; } && run_peers=1
durable_args=()

# ---------------------------------------------------------------------------------------------------------------
log "building mq-bench"
# package, not install: ~/.m2's dev.rill artifacts are shared with other worktrees building at the same time.
./mvnw -q -pl mq-bench -am -DskipTests package
# A private copy: another build of mq-bench during the run (durable-bench.sh, a developer) rewrites target/.
jar=$tmp/benchmarks.jar
cp "$root/mq-bench/target/benchmarks.jar" "$jar"

net_args=()
if [ "$run_peers" = 1 ]; then
    need=()
    { wants rabbit-classic || wants rabbit-quorum; } && ! [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && need+=(rabbitmq-server)
    wants redis && ! command -v redis-server >/dev/null && need+=(redis-server)
    wants nats && ! command -v nats-server >/dev/null && need+=(nats-server)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi

    if wants redis && port_free 16380 "redis (networked)"; then
        mkdir -p "$data/redis"
        setsid redis-server --bind 127.0.0.1 --port 16380 --save '' --appendonly no --dir "$data/redis" \
            >"$tmp/redis.log" 2>&1 &
        pids+=($!); wait_port 16380 30 $! && net_args+=(redis:16380)
    fi
    if wants redis && port_free 16381 "redis (durable, AOF)"; then
        # The durable scenario's Redis: AOF on (the bench sets appendfsync everysec or always before its runs).
        mkdir -p "$data/redis-aof"
        setsid redis-server --bind 127.0.0.1 --port 16381 --save '' --appendonly yes --appendfsync everysec \
            --dir "$data/redis-aof" >"$tmp/redis-aof.log" 2>&1 &
        pids+=($!); wait_port 16381 30 $! && durable_args+=(redis-everysec:16381 redis-always:16381)
    fi
    if wants nats && port_free 14223 nats-server; then
        setsid nats-server -js -sd "$data/nats" -a 127.0.0.1 -p 14223 >"$tmp/nats.log" 2>&1 &
        pids+=($!)
        if wait_port 14223 30 $!; then
            wants nats-mem && net_args+=(nats-mem:14223)
            wants nats-file && net_args+=(nats-file:14223) && durable_args+=(nats-file:14223)
        fi
    fi
    if wants rabbit && port_free 35673 rabbitmq-server && port_free 14370 epmd; then
        r=$data/rabbit; mkdir -p "$r/mnesia" "$r/log" "$r/home"
        printf 'listeners.tcp.default = 35673\nloopback_users = none\n' >"$r/rabbitmq.conf"
        export HOME_SAVED=$HOME
        # epmd of our own, on loopback and a non-default port, so nothing outlives the run.
        setsid epmd -address 127.0.0.1 -port 14370 >"$tmp/epmd.log" 2>&1 &
        pids+=($!); wait_port 14370 10 $!
        rabbit_start=$SECONDS
        (
            export HOME=$r/home ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=14370
            export RABBITMQ_NODENAME=rillbench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=35673
            export RABBITMQ_DIST_PORT=35674 RABBITMQ_MNESIA_BASE=$r/mnesia RABBITMQ_LOG_BASE=$r/log
            export RABBITMQ_CONFIG_FILE=$r/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$r/enabled_plugins
            export RABBITMQ_PID_FILE=$r/rabbit.pid RABBITMQ_ENABLED_PLUGINS=
            exec setsid /usr/lib/rabbitmq/bin/rabbitmq-server
        ) >"$tmp/rabbit.log" 2>&1 &
        pids+=($!)
        if wait_port 35673 120 $!; then
            log "rabbitmq ready after $((SECONDS - rabbit_start))s"
            wants rabbit-classic && net_args+=(rabbit-classic:35673)
            wants rabbit-quorum && net_args+=(rabbit-quorum:35673) && durable_args+=(rabbit-quorum:35673)
        else
            tail -20 "$tmp/rabbit.log" >&2 || true
        fi
    fi
    wants blocking-relay && net_args=(blocking-relay "${net_args[@]}")
    wants netty-relay && net_args=(netty-relay "${net_args[@]}")
    wants rill && net_args=(rill rill-pipeline "${net_args[@]}")
fi
wants rill && durable_args=(rill-embedded rill-core rill-net "${durable_args[@]}")

# Versions of what runs.
java_version=$(java -version 2>&1 | head -2 | tr '\n' ' ')
rabbit_version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo "not installed")
erlang_version=$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null || echo "?")
redis_version=$(redis-server --version 2>/dev/null | sed 's/.*v=\([^ ]*\).*/\1/' || echo "not installed")
nats_version=$(nats-server --version 2>/dev/null || echo "not installed")

if [ "${BENCH_SKIP_REACTIVE:-0}" != 1 ]; then
    log "in-JVM reactive"
    if [ "$profile" = quick ]; then args=(1000000 3 5); else args=(2000000 5 10); fi
    java "${jvm_flags[@]}" -Xms1g -Xmx1g -cp "$jar" dev.rill.bench.suite.ReactiveBench "${args[@]}" "$frag"
fi

if [ "${BENCH_SKIP_NET:-0}" != 1 ] && [ ${#net_args[@]} -gt 0 ]; then
    log "networked: ${net_args[*]}"
    java "${jvm_flags[@]}" -Xms1g -Xmx1g -cp "$jar" dev.rill.bench.net.NetBench "$profile" "$frag" "${net_args[@]}"
fi

if [ "${BENCH_SKIP_DURABLE:-0}" != 1 ] && [ ${#durable_args[@]} -gt 0 ]; then
    log "durable: ${durable_args[*]} (data under $data)"
    # The embedded broker keeps every message of a run in this heap (no consumer): up to 400k x 4 KiB in full.
    java "${jvm_flags[@]}" -Xms1g -Xmx4g -Drill.bench.disk="$data_disk" -cp "$jar" dev.rill.bench.durable.DurableBench "$profile" \
        "$frag" "$data/rill" "${durable_args[@]}"
fi

if [ "${BENCH_SKIP_SCALING:-0}" != 1 ]; then
    log "in-JVM scaling curves"
    # full queues 10M messages in one queue (about 1 GB of entries), the core's and then the reactive layer's.
    if [ "$profile" = quick ]; then heap=3g; else heap=6g; fi
    java "${jvm_flags[@]}" -Xms1g -Xmx$heap -Djava.awt.headless=true -cp "$jar" dev.rill.bench.suite.ScalingBench "$profile" "$frag"
fi

if [ "${BENCH_SKIP_MEMORY:-0}" != 1 ]; then
    log "client memory under a slow consumer"
    if [ "$profile" = quick ]; then secs=8; else secs=30; fi
    java "${jvm_flags[@]}" -Xms256m -Xmx1g -cp "$jar" dev.rill.bench.net.SlowConsumerMemory 1000000 "$secs" "$frag" 256 4096
fi

# ---------------------------------------------------------------------------------------------------------------
mkdir -p "$out/benchmarks"
cp "$frag"/*.json "$out/benchmarks/" 2>/dev/null || true
cp "$frag"/*.png "$out/benchmarks/" 2>/dev/null || true
{
    echo "# Benchmarks"
    echo
    echo "Generated by \`mq-bench/scripts/bench.sh $profile\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Raw figures:"
    echo "\`docs/benchmarks/*.json\`. Ratios from the same run are the headline: absolute numbers drift on a"
    echo "shared machine (other work was running on these cores during the run unless stated otherwise)."
    echo
    echo "## Machine and versions"
    echo
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores online"
    echo "- Memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "- Kernel: $(uname -r)"
    echo "- JVM: $java_version"
    echo "- RabbitMQ $rabbit_version (Erlang $erlang_version), Redis $redis_version, $nats_version"
    echo "- Clients: amqp-client 5.37.1, jedis 8.0.2, jnats 2.24.1; Rill $(sed -n 's:.*<version>\(.*-SNAPSHOT\)</version>.*:\1:p' pom.xml | head -1) ($(git rev-parse --short HEAD))"
    echo "- Data directories: $data_disk"
    echo "- Timer slack: $timer_slack"
    echo "- Huge pages: $huge_pages"
    echo "- Load (1, 5, 15-min averages, 2 cores): $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; the run took $((SECONDS / 60)) min"
    echo
    echo "## Results"
    echo
    for f in reactive network durable scaling memory; do
        [ -f "$frag/$f.md" ] && cat "$frag/$f.md"
    done
    if [ -f "$root/mq-bench/NOTES.md" ]; then
        cat "$root/mq-bench/NOTES.md"
    fi
} >"$out/benchmarks.md"
log "wrote $out/benchmarks.md"

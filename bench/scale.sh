#!/usr/bin/env bash
# Issue 14's scale run: many meshes of 10 peers with real-client presence, a connect storm, heartbeats, background
# directs and broadcasts, an overflow beyond what a node holds and a mass departure (bench/scale/scale.mjs), against
# one node or a cluster of co-hosted nodes on this machine. Prints the issue's table per run, then the medians.
#
#   bench/scale.sh [--cluster] [--peers N] [--nodes K] [--runs R] [--steady S] [--overflow N] [--no-build] [--keep]
#                  [-- more scale.mjs options, e.g. --concurrency 500 --direct-rate 1000]
#
# One node (default): 18,000 peers on the single-process relay (Relay.Silo); the connection limit stays the one the
# node derives from its open-file limit (18,976 at 20,000); --overflow (default 1,500) more upgrades must be refused
# with 503 while the peers notice nothing. --cluster: 100,000 peers over K co-hosted nodes (scripts/cluster.sh up
# --silos K --gateways 0 --combined, with Redis; K defaults to as many as the open-file limit needs, 16,000 peers a
# node), each peer's mesh spread over the nodes; no overflow.
# For the run only, and restored on exit: net.ipv4.ip_local_port_range raised to 1024-65535 (the client's sockets
# come from 127.0.0.2-127.0.0.9, each address needing a port per peer), the open-file limit raised to its hard limit;
# the relay gets Relay__MaxConnectionsPerAddress, Relay__MaxMeshesPerAddress, Relay__MaxMeshes and Relay__MaxPeersPerMesh lifted (the load comes
# from 8 addresses into thousands of meshes). Each run starts fresh relay processes, idle RSS read before the storm.
# The load client needs `ws` (npm ci in bench/scale, done here when missing). Default steady phase: 60 s.
# Exit status: 0 when every run passed the client's correctness checks, 1 when one did not, 2 on error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench/scale.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

cluster=0 peers="" nodes="" runs=1 steady=60 overflow="" build=1 keep=0 extra=()
while (($#)); do
    case $1 in
        --cluster) cluster=1; shift ;;
        --peers) peers=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --steady) steady=$2; shift 2 ;;
        --overflow) overflow=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --keep) keep=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
if ((cluster)); then
    peers=${peers:-100000}
    nodes=${nodes:-$(((peers + 15999) / 16000))}
    overflow=${overflow:-0}
else
    peers=${peers:-18000}
    overflow=${overflow:-1500}
fi

work=$(mktemp -d /tmp/relay-scale.XXXXXX)
export CLUSTER_DIR=$work/cluster
cluster_started=0
relay_pid=""
port_range=$(sysctl -n net.ipv4.ip_local_port_range | tr -s '\t ' ' ')

stop_relay() {
    [[ -n $relay_pid ]] || return 0
    kill -TERM -- "-$relay_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$relay_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
    relay_pid=""
}
cleanup() {
    local rc=$?
    set +e
    stop_relay
    if ((cluster_started)); then timeout 120 "$repo/scripts/cluster.sh" down >&2; cluster_started=0; fi
    sysctl -q -w net.ipv4.ip_local_port_range="$port_range" && say "net.ipv4.ip_local_port_range restored to $port_range"
    if ((keep)); then say "kept $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"
if ((build)); then
    say "building Relay (Release)"
    timeout 900 dotnet build "$repo/Relay.slnx" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; die "build failed"; }
fi
silo_dir=$repo/src/Relay.Silo/bin/Release/net10.0
[[ -f $silo_dir/Relay.Silo.dll ]] || die "$silo_dir/Relay.Silo.dll missing (build first)"
load_dir=$repo/bench/scale
if ! cmp -s "$load_dir/package-lock.json" "$load_dir/node_modules/.lock-copy"; then
    say "npm ci in bench/scale"
    (cd "$load_dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
    cp "$load_dir/package-lock.json" "$load_dir/node_modules/.lock-copy"
fi
sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" || die "cannot raise net.ipv4.ip_local_port_range (root needed)"

export Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000 Relay__MaxMeshes=1000000 Relay__MaxPeersPerMesh=1000000

wait_ready() { # url pid
    for _ in $(seq 1 480); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.25
    done
    return 1
}

# start -> $urls, $pids, $metrics: fresh relay processes for one run.
start() {
    if ((cluster)); then
        local base
        free_ports $((nodes)); base=$port
        free_ports 1; local redis=$port
        free_ports "$nodes"; local silo=$port
        free_ports "$nodes"; local gateway=$port
        urls=$("$repo/scripts/cluster.sh" up --silos "$nodes" --gateways 0 --combined --no-build --base-port "$base" \
            --redis-port "$redis" --silo-port "$silo" --gateway-port "$gateway" --timeout 300 | tail -n 1)
        cluster_started=1
        # The relay processes: co-hosted nodes are named node1..nodeK (the compose services' names), not redis.
        pids=$(awk '$1 ~ /^node/ {print $2}' "$CLUSTER_DIR/pids" | paste -sd,)
        metrics=$(for ((k = 0; k < nodes; k++)); do echo "http://127.0.0.1:$((base + k))/metrics"; done | paste -sd,)
    else
        free_ports 1; local http=$port
        free_ports 1; local silo=$port
        free_ports 1; local gateway=$port
        (cd "$silo_dir" && exec setsid env Cluster__SiloPort="$silo" Cluster__GatewayPort="$gateway" \
            dotnet Relay.Silo.dll --urls "http://127.0.0.1:$http") >"$work/relay-$run.log" 2>&1 </dev/null &
        relay_pid=$!
        wait_ready "http://127.0.0.1:$http/healthz" "$relay_pid" || { tail -n 20 "$work/relay-$run.log" >&2; die "the relay did not start"; }
        urls=ws://127.0.0.1:$http/ws
        pids=$relay_pid
        metrics=http://127.0.0.1:$http/metrics
    fi
}
stop() {
    stop_relay
    if ((cluster_started)); then timeout 120 "$repo/scripts/cluster.sh" down >&2; cluster_started=0; fi
}

failed=0
for ((run = 1; run <= runs; run++)); do
    start
    sleep 2 # let start-up work (tiered compilation, the first GCs) finish before idle RSS is read
    say "run $run of $runs: $peers peers against $urls"
    rc=0
    timeout $((steady + 600)) node "$repo/bench/scale/scale.mjs" --url "$urls" --peers "$peers" --steady "$steady" \
        --overflow "$overflow" --pid "$pids" --metrics "$metrics" "${extra[@]}" >"$work/run-$run.out" || rc=$?
    grep -v '^{' "$work/run-$run.out" || true
    tail -n 1 "$work/run-$run.out" >>"$work/results.jsonl"
    ((rc == 0)) || { failed=1; say "run $run failed its checks (exit $rc)"; }
    stop
done

if ((runs > 1)); then
    node -e '
        const runs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l));
        const median = (key) => { const v = runs.map(r => key.split(".").reduce((o, k) => o?.[k], r)).filter(x => x != null).sort((a, b) => a - b); return v.length ? Math.round(v[Math.floor((v.length - 1) / 2)] * 100) / 100 : "n/a"; };
        const all = (key) => runs.map(r => key.split(".").reduce((o, k) => o?.[k], r)).map(x => typeof x === "number" ? Math.round(x * 100) / 100 : x).join(", ");
        console.log(`\nmedians of ${runs.length} runs`);
        console.log("| figure | median | runs |\n|---|---:|---|");
        for (const [label, key] of [["registered", "registered"], ["held", "held"], ["RSS per peer, registered (KiB)", "rss_per_peer_kib"],
            ["RSS per peer, after steady (KiB)", "rss_per_peer_held_kib"], ["RSS idle (kB)", "rss_idle_kb"], ["time to register (s)", "register_s"],
            ["overflow refused", "overflow.refused"], ["steady server CPU (% of a core)", "server_cpu_pct"], ["direct p99 (ms)", "direct_p99_ms"],
            ["lost", "lost"], ["duplicated", "duplicated"], ["reordered", "reordered"], ["false offline", "false_offline"],
            ["departure: offline once", "departure.once"], ["departure: last offline (ms)", "departure.max_ms"]]) {
            console.log(`| ${label} | ${median(key)} | ${all(key)} |`);
        }' "$work/results.jsonl"
fi
exit "$failed"

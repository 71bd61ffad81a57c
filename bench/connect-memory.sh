#!/usr/bin/env bash
# Memory per connection, alone: meshbench's connect scenario (an observer, then N peers that register, C at a time)
# against a fresh server per run, for limit-hub and Relay one after the other, repeated to show the spread.
#
#   bench/connect-memory.sh [--peers N] [--concurrency C] [--runs R] [--settle S] [--servers limit-hub,ours]
#                           [--timeout S] [--no-build]
#
# Defaults: 1000 peers, 64 at a time, 1 run, settle 5 s, both servers, timeout 600 s. Each line: server, peers, run,
# seconds until all registered, server RSS before and after (kB, VmRSS of the process), (after - before) / N in
# kB per connection (meshbench's figure, the one of bench/compare.sh's table), and the load average at the start.
# Presence is O(N²): every newcomer gets a snapshot of everyone, and everyone gets its presence (10,000 peers are
# 100 million frames to the client), so large N take minutes; the timeout bounds each run.
#
# Relay runs as in bench/compare.sh (Release build, Orleans ports on free ports, rate and connection limits lifted);
# OURS_ENV adds environment to it (e.g. OURS_ENV='DOTNET_GCgen0size=0x400000'). The kit (meshbench, limit-hub) is the
# one bench/compare.sh prepares in $MESHBENCH_DIR (default /tmp/relay-compare-$UID), copied from the shared folder
# the same way when missing. The open-file limit is raised to its hard limit (each side, server and client, holds N sockets).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MESHBENCH_SRC:-$repo/../shared/bench}
kit=${MESHBENCH_DIR:-/tmp/relay-compare-$UID}
bench_name=bench/connect-memory.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

peers=1000 concurrency=64 runs=1 settle=5 servers=limit-hub,ours timeout=600 build=1
while (($#)); do
    case $1 in
        --peers) peers=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --settle) settle=$2; shift 2 ;;
        --servers) servers=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > peers + 100 )) || die "open-file limit $(ulimit -n) is too low for $peers peers"

silo_dir=$repo/src/Relay.Silo/bin/Release/net10.0
if [[ ,$servers, == *,ours,* ]] && ((build)); then
    say "building Relay (Release)"
    timeout 600 dotnet build "$repo/src/Relay.Silo" -c Release -nologo -v quiet >/dev/null || die "build failed"
fi
if [[ ! -f $kit/meshbench.mjs ]]; then
    [[ -f $src/meshbench.mjs ]] || die "meshbench kit not found at $src (set MESHBENCH_SRC)"
    mkdir -p "$kit" && cp -r --preserve=timestamps "$src/." "$kit/" && chmod -R u+w "$kit"
fi
[[ -d $kit/node_modules ]] || (cd "$kit" && npm ci --silent >/dev/null) || die "npm ci failed in $kit"
hub_dll=$kit/baselines/limit-hub/bin/Release/net10.0/LimitHub.dll
if [[ ,$servers, == *,limit-hub,* && ! -f $hub_dll ]]; then
    dotnet build "$kit/baselines/limit-hub" -c Release --nologo -v q >/dev/null || die "limit-hub build failed"
fi

server_pid=""
stop_server() { # the process group this script started, nothing else
    [[ -n $server_pid ]] || return 0
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.125; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT
trap 'exit 143' INT TERM

start_server() { # name http-port log -> server_pid, ready_url
    local name=$1 http=$2 log=$3 port
    case $name in
        limit-hub)
            ready_url=http://127.0.0.1:$http/ping
            PORT=$http setsid dotnet "$hub_dll" >"$log" 2>&1 </dev/null & ;;
        ours)
            ready_url=http://127.0.0.1:$http/healthz
            local silo_port gateway_port
            free_ports 1; silo_port=$port; free_ports 1; gateway_port=$port
            # shellcheck disable=SC2086 # OURS_ENV is a list of NAME=value words
            (cd "$silo_dir" && exec setsid env Cluster__SiloPort="$silo_port" Cluster__GatewayPort="$gateway_port" \
                Relay__RateLimitPerSecond=1000000 Relay__RateLimitBurst=1000000 Relay__ByteRateLimitPerSecond=1000000000 Relay__ByteRateLimitBurst=1000000000 Relay__MaxConnections=1000000 \
                Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000 Relay__MaxPeersPerMesh=1000000 ${OURS_ENV:-} \
                dotnet Relay.Silo.dll --urls "http://127.0.0.1:$http") >"$log" 2>&1 </dev/null & ;;
        *) die "unknown server: $name (limit-hub, ours)" ;;
    esac
    server_pid=$!
    for _ in $(seq 1 240); do
        kill -0 "$server_pid" 2>/dev/null || { tail -5 "$log" >&2; die "$name exited during start-up"; }
        curl -sf -o /dev/null --max-time 1 "$ready_url" && return 0
        sleep 0.25
    done
    die "$name not ready at $ready_url after 60 s"
}

say "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $peers peers, $concurrency at a time, settle $settle s, $runs run(s)"
printf '| server | peers | run | all registered s | RSS before kB | RSS after kB | kB/conn | load average at start |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---|\n'
IFS=, read -r -a names <<<"$servers"
for ((run = 1; run <= runs; run++)); do
    for name in "${names[@]}"; do
        free_ports 1; http=$port
        log=$(mktemp "/tmp/connect-memory.$name.XXXXXX")
        start_server "$name" "$http" "$log"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        out=$(timeout $((timeout + 30)) node "$kit/meshbench.mjs" --json --proto agimesh --url "ws://127.0.0.1:$http/ws" \
            --scenario connect --peers "$peers" --concurrency "$concurrency" --settle "$settle" --timeout "$timeout" \
            --pid "$server_pid" 2>>"$log" | tail -n 1) || true
        stop_server
        node -e '
            const [name, peers, run, load, text] = process.argv.slice(1);
            let r; try { r = JSON.parse(text); } catch { r = null; }
            const m = (r && r.metrics) || {};
            const bad = r ? (r.failures || []).concat(r.errors || []).join("; ") : "meshbench printed no result";
            const f = (v) => v == null ? "n/a" : v;
            console.log(`| ${name} | ${peers} | ${run} | ${f(m.register_s)} | ${f(m.rss_before_kb)} | ${f(m.rss_after_kb)} | ${f(m.rss_per_conn_kb)}${bad ? " ✗ " + bad : ""} | ${load} |`);
            if (bad) for (const note of (r && r.notes) || []) console.error(`  meshbench: ${note}`);
            process.exitCode = bad ? 1 : 0;
        ' "$name" "$peers" "$run" "$load" "$out" && rm -f "$log" || say "run failed: server log kept in $log"
    done
done

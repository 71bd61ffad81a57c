#!/usr/bin/env bash
# CPU profile of the single-process relay under one meshbench scenario, with Linux `perf` (cpu-clock sampling,
# call graphs; .NET writes /tmp/perf-PID.map so JIT-compiled frames get their names, and W^X is off so that
# the map matches the code addresses).
#
#   bench/profile.sh SCENARIO [SECONDS] [-- extra meshbench options]      e.g. bench/profile.sh direct 8
#
# SCENARIO: direct, broadcast or stream (compare.sh's default parameters), or connect (1000 peers, 64 at a time).
# Publishes Relay as bench/compare.sh runs it (bench/publish.sh: Release, ReadyToRun), starts Relay.Silo on free
# ports with the rate limits raised (as bench/compare.sh does), runs a 2 s warm-up, then meshbench while `perf record`
# samples the relay, and prints the hottest symbols (self time, then inclusive). Needs the meshbench kit that
# bench/compare.sh prepares ($MESHBENCH_DIR). Keeps perf.data and the report in the work directory it names.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit=${MESHBENCH_DIR:-/tmp/relay-compare-$UID}
scenario=${1:?usage: bench/profile.sh direct|broadcast|stream|connect [SECONDS]}
seconds=${2:-8}
shift $(($# >= 2 ? 2 : 1))
[[ ${1:-} == -- ]] && shift
bench_name=bench/profile.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
[[ -d $kit/node_modules/ws ]] || { say "run bench/compare.sh once first (it prepares $kit)"; exit 2; }
command -v perf >/dev/null || { say "perf is missing (Debian: linux-perf)"; exit 2; }

case $scenario in
    direct) params="--peers 32 --payload 1024 --window 16" ;;
    broadcast) params="--peers 50 --senders 4 --payload 512 --window 8" ;;
    stream) params="--peers 20 --payload 64 --window 32" ;;
    connect) params="--peers 1000 --concurrency 64" ;;
    *) say "unknown scenario $scenario"; exit 2 ;;
esac

silo_dir=$(bash "$repo/bench/publish.sh")
work=$(mktemp -d /tmp/relay-profile.XXXXXX)
free_ports 1; http=$port; free_ports 1; silo=$port; free_ports 1; gw=$port
(
    cd "$silo_dir"
    exec setsid env DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 Cluster__SiloPort="$silo" Cluster__GatewayPort="$gw" \
        Relay__RateLimitPerSecond=1000000 Relay__RateLimitBurst=1000000 Relay__ByteRateLimitPerSecond=1000000000 Relay__ByteRateLimitBurst=1000000000 \
        Relay__MaxConnections=1000000 Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000 Relay__MaxPeersPerMesh=1000000 \
        dotnet Relay.Silo.dll --urls "http://127.0.0.1:$http" </dev/null >"$work/relay.log" 2>&1
) &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' EXIT
for _ in $(seq 240); do curl -sf -o /dev/null "http://127.0.0.1:$http/healthz" && break; sleep 0.25; done
url="ws://127.0.0.1:$http/ws"
node "$kit/meshbench.mjs" --proto agimesh --url "$url" --scenario direct --peers 4 --duration 2 --messages 10000000 --timeout 30 >/dev/null
run=(node "$kit/meshbench.mjs" --proto agimesh --url "$url" --scenario "$scenario" --pid "$pid" --timeout 120)
# shellcheck disable=SC2206
[[ $scenario == connect ]] || run+=(--messages 10000000 --grace 3 --duration "$((seconds + 2))")
# shellcheck disable=SC2086
"${run[@]}" $params "$@" >"$work/meshbench.txt" 2>&1 &
bench=$!
sleep 1
perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep "$seconds" >/dev/null 2>&1
wait "$bench" || say "meshbench exited $?"
grep -E 'msgs/s|deliveries|registered|CPU' "$work/meshbench.txt" >&2 || true
perf report -i "$work/perf.data" --no-children --sort symbol --percent-limit 0.7 --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' >"$work/self.txt" || true
perf report -i "$work/perf.data" --children --sort symbol --percent-limit 2 --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' >"$work/children.txt" || true
echo "== self"; head -40 "$work/self.txt"
echo "== inclusive"; head -60 "$work/children.txt"
say "kept $work"

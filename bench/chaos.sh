#!/usr/bin/env bash
# Chaos soak: a process cluster (scripts/cluster.sh, with Redis) under real-client traffic while its nodes die. Peers
# in meshes of 10 spread over the gateways send presence every 10 s, directs, broadcasts and streams; every 30-60 s
# one node (silo, gateway or co-hosted node) is killed with SIGKILL and restarted 5-20 s later; once, redis is
# restarted (SHUTDOWN SAVE, start). Peers whose socket died come back after 1-5 s, half under their id, half as new
# peers. Then the checker (bench/Relay.Chaos) reports: every frame between open sockets delivered once in per-sender
# order or its loss reported; every departed peer offline once per survivor, 30-40 s after its last frame, never a
# ghost; every roster (mesh grain, each gateway's snapshot) equal to the open sockets; RSS and managed heap flat.
#
#   bench/chaos.sh [--minutes M] [--peers N] [--mesh-size S] [--topology split|cohosted] [--seed N] [--no-build]
#                  [--configuration C] [--keep] [-- driver options]
#
#   --minutes    how long traffic runs (default 10)          --peers      peers (default 2000)
#   --topology   split: 2 silos + 2 gateways (default, docker-compose.split.yml); cohosted: 3 nodes, as shipped
#   --seed       the run's random seed (kills, pauses, partners), printed in the report to repeat a run
#   --no-build   use the dlls built before, in --configuration (default Release)
#   --keep       keep the work directory (cluster logs) and print its path
#   -- ...       passed to the driver (e.g. -- --kill-every-min 20 --kill-every-max 40); see ChaosOptions.cs
#
# Prints the markdown report on stdout; progress on stderr. Exit status: 0 when every check passed, 1 when one
# failed, 2 on error. The relay runs with its production timings (StaleTimeout 30 s) and the failure detection
# scripts/cluster.sh ships (a dead silo declared in 2-3 s).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
minutes=10
peers=2000
mesh_size=10
topology=split
seed=$RANDOM
build=1
configuration=Release
keep=0
driver=()
while (($#)); do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --peers) peers=$2; shift 2 ;;
        --mesh-size) mesh_size=$2; shift 2 ;;
        --topology) topology=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --configuration) configuration=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --) shift; driver=("$@"); break ;;
        -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        *) echo "bench/chaos.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench_name=chaos
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

# One client address holds every peer's socket: lift the per-address and node limits. Exported, so that a node the
# chaos restarts (scripts/cluster.sh restart) gets them too.
export Relay__MaxConnections=1000000
export Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000

work=$(mktemp -d /tmp/relay-chaos.XXXXXX)
export CLUSTER_DIR=$work/cluster
cluster_started=0
cleanup() {
    local rc=$?
    set +e
    stop_cluster_and_work
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    say "building Relay and the chaos driver ($configuration)"
    { timeout 900 dotnet build "$repo/src/Relay.Silo" -c "$configuration" -nologo -v quiet &&
      timeout 900 dotnet build "$repo/bench/Relay.Chaos" -c "$configuration" -nologo -v quiet; } >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; die "build failed"; }
fi
driver_dll=$repo/bench/Relay.Chaos/bin/$configuration/net10.0/Relay.Chaos.dll
[[ -f $driver_dll ]] || die "$driver_dll is missing: build first (or drop --no-build)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

case $topology in
    split) shape=(--silos 2 --gateways 2); http_ports=4 ;;
    cohosted) shape=(--silos 3 --gateways 0 --combined); http_ports=3 ;;
    *) die "--topology is split or cohosted" ;;
esac
free_ports "$http_ports"; base=$port; free_ports 1; redis=$port; free_ports 3; sport=$port; free_ports 3; gport=$port
cluster_started=1
urls=$(timeout 240 "$repo/scripts/cluster.sh" up "${shape[@]}" --no-build --configuration "$configuration" \
    --base-port "$base" --redis-port "$redis" --silo-port "$sport" --gateway-port "$gport" --timeout 180 | tail -n 1) \
    || die "cluster.sh up failed"
say "cluster up ($topology): $urls"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
timeout $((minutes * 60 + 900)) dotnet "$driver_dll" --urls "$urls" --cluster-dir "$CLUSTER_DIR" \
    --cluster-script "$repo/scripts/cluster.sh" --peers "$peers" --mesh-size "$mesh_size" \
    --duration $((minutes * 60)) --seed "$seed" "${driver[@]}"
status=$?
set -e
say "load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
((status == 0 || status == 1)) || die "the chaos driver failed ($status)"
exit "$status"

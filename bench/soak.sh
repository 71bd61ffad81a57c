#!/usr/bin/env bash
# Soak: many peers held for a long time on a 2-gateway/2-silo process cluster (scripts/cluster.sh), with the real
# clients' presence every 10 s and steady direct and broadcast traffic (bench/soak.mjs). Samples every node's RSS and
# CPU and the gateways' and silos' GC figures (/metrics, meter System.Runtime) over time; the client reports delivery
# latency percentiles, loss, order, and any unexpected offline, close or error per window. Bounded; not run in CI.
#
#   bench/soak.sh [--peers N] [--minutes M] [--mesh-size S] [--window SECONDS] [--keep]
#
#   --peers      peers (default 2000), spread over both gateways, in meshes of --mesh-size (default 20)
#   --minutes    how long traffic runs (default 10)
#   --window     sampling period and client window in seconds (default 30)
#   --keep       keep the work directory (samples, client output, cluster logs) and print its path
#
# Prints two markdown tables on stdout (server samples; client windows) and the client's summary line; progress
# goes to stderr. Exit status: 0 when nothing was lost, reordered, closed or reported offline; 1 otherwise; 2 on error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MESHBENCH_SRC:-$repo/../shared/bench}
mb_dir=${MESHBENCH_DIR:-/tmp/relay-meshbench-$UID}
peers=2000
minutes=10
mesh_size=20
window=30
keep=0
while (($#)); do
    case $1 in
        --peers) peers=$2; shift 2 ;;
        --minutes) minutes=$2; shift 2 ;;
        --mesh-size) mesh_size=$2; shift 2 ;;
        --window) window=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        *) echo "bench/soak.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench_name=soak
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

# The client is one address (127.0.0.1) holding every peer's socket: lift the per-address limit (256 by default),
# and the node's own (which the per-address limit may not exceed).
export Relay__MaxConnections=1000000
export Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000

work=$(mktemp -d /tmp/relay-soak.XXXXXX)
export CLUSTER_DIR=$work/cluster
cluster_started=0
client_pid=""
cleanup() {
    local rc=$?
    set +e
    [[ -n $client_pid ]] && kill -TERM "$client_pid" 2>/dev/null
    stop_cluster_and_work
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build, client ------------------------------------------------------------------------------------------
say "building Relay (Release)"
timeout 600 dotnet build "$repo/src/Relay.Silo" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log" >&2; die "build failed"; }
[[ -f $src/meshbench.mjs ]] || die "meshbench not found at $src (set MESHBENCH_SRC)"
mkdir -p "$mb_dir"
cp -r "$src/." "$mb_dir/"
if [[ ! -d $mb_dir/node_modules/ws ]]; then
    say "npm ci in $mb_dir"
    (cd "$mb_dir" && timeout 300 npm ci --no-audit --no-fund >&2) || die "npm ci failed"
fi
cp "$repo/bench/soak.mjs" "$mb_dir/relay-soak.mjs" # next to meshbench's node_modules, where `ws` resolves
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- cluster ------------------------------------------------------------------------------------------------
free_ports 4; base=$port; free_ports 1; redis=$port; free_ports 2; sport=$port; free_ports 2; gport=$port
say "cluster: gateways on $base-$((base + 1)), silo HTTP $((base + 2))-$((base + 3)), CLUSTER_DIR $CLUSTER_DIR"
cluster_started=1
urls=$(timeout 180 "$repo/scripts/cluster.sh" up --silos 2 --gateways 2 --no-build --configuration Release \
    --base-port "$base" --redis-port "$redis" --silo-port "$sport" --gateway-port "$gport" --timeout 120 | tail -n 1) \
    || die "cluster.sh up failed"
[[ $urls == ws://*,ws://* ]] || die "unexpected URLs from cluster.sh up: $urls"
# name pid ... per line; HTTP ports: gateway k on base+k-1, silo k on base+2+k-1.
declare -A http=([gateway1]=$base [gateway2]=$((base + 1)) [silo1]=$((base + 2)) [silo2]=$((base + 3)))
mapfile -t procs < <(awk '{print $1" "$2}' "$CLUSTER_DIR/pids")
say "cluster up: $urls"

# --- sampling ------------------------------------------------------------------------------------------------
hz=$(getconf CLK_TCK)
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo gone; }
cpu_s() { local f; f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; f=${f##*) }; read -r -a a <<<"$f"; echo $(((a[11] + a[12]) / hz)); }
scrape() { curl -sf --max-time 10 "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } # a slow node: empty, not fatal
sum_of() { awk -v re="^($1)[{ ]" '$0 ~ re {s += $NF} END {printf "%.3f", s}'; }
sample() { # elapsed -> one line per relay process: t name rss_mb cpu_s heap_mb gc_pause_s gen2
    local t=$1 name pid port text heap pause gen2
    for entry in "${procs[@]}"; do
        read -r name pid <<<"$entry"
        port=${http[$name]:-}
        if [[ -n $port ]]; then
            text=$(scrape "$port")
            heap=$(sum_of 'dotnet_gc_last_collection_heap_size_bytes' <<<"$text")
            pause=$(sum_of 'dotnet_gc_pause_time_seconds_total' <<<"$text")
            gen2=$(awk '/^dotnet_gc_collections_total\{.*gc_heap_generation="gen2"/ {s += $NF} END {printf "%d", s}' <<<"$text")
            printf '%s %s %s %s %.0f %s %s\n' "$t" "$name" "$(rss_mb "$pid")" "$(cpu_s "$pid")" "$(awk -v b="$heap" 'BEGIN {print b / 1048576}')" "$pause" "$gen2"
        else
            printf '%s %s %s %s - - -\n' "$t" "$name" "$(rss_mb "$pid")" "$(cpu_s "$pid")"
        fi
    done
}

say "starting $peers peers for $minutes min (windows of $window s)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
node "$mb_dir/relay-soak.mjs" --url "$urls" --peers "$peers" --mesh-size "$mesh_size" --duration $((minutes * 60)) \
    --window "$window" >"$work/client.ndjson" 2>"$work/client.err" &
client_pid=$!
start=$(date +%s)
sample 0 >"$work/samples.txt"
deadline=$((start + minutes * 60 + 300))
while kill -0 "$client_pid" 2>/dev/null; do
    sleep "$window"
    sample $(($(date +%s) - start)) >>"$work/samples.txt"
    (($(date +%s) < deadline)) || { say "client overran its time; stopping it"; kill -TERM "$client_pid"; break; }
done
client_rc=0
wait "$client_pid" || client_rc=$?
client_pid=""
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$work/client.err" >&2

# --- report --------------------------------------------------------------------------------------------------
echo "Server samples (every ${window} s; load average at start $load_start, at end $load_end): RSS MB, CPU s (cumulative), GC heap MB after the last GC, GC pause s (cumulative), gen2 GCs"
echo
names=$(awk '{print $2}' "$work/samples.txt" | awk '!seen[$0]++' | tr '\n' ' ')
printf '| t s |'; for n in $names; do printf ' %s RSS / CPU / heap / pause / gen2 |' "$n"; done; echo
printf '|---:|'; for _ in $names; do printf -- '---:|'; done; echo
awk -v names="$names" '
    { key = $1; if (!(key in seen)) { seen[key] = 1; order[++n] = key } cell[key, $2] = $3 " / " $4 " / " $5 " / " $6 " / " $7 }
    END { split(names, ns, " "); for (i = 1; i <= n; i++) { printf "| %s |", order[i]; for (j = 1; j in ns; j++) printf " %s |", cell[order[i], ns[j]]; print "" } }
' "$work/samples.txt"
echo
echo "Client windows (${window} s each): deliveries, latency ms p50 / p99 / max (direct; broadcast), reordered, duplicated, offline, closed, errors"
echo
echo '| t s | sent | received | direct p50 / p99 / max | broadcast p50 / p99 / max | reordered | dup | offline | closed | errors |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
    for (const l of lines.filter(l => !l.summary)) {
        const f = (x) => `${x.p50} / ${x.p99} / ${x.max}`;
        console.log(`| ${l.t_s} | ${l.sent} | ${l.received} | ${f(l.direct_ms)} | ${f(l.broadcast_ms)} | ${l.reordered} | ${l.duplicated} | ${l.offline} | ${l.closed} | ${l.errors} |`);
    }
    const s = lines.find(l => l.summary);
    console.log("");
    console.log("summary: " + JSON.stringify(s));
' "$work/client.ndjson"
exit $((client_rc == 0 ? 0 : 1))

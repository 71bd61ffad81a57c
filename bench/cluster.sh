#!/usr/bin/env bash
# Cluster benchmark: the same meshbench load against the single-process relay, a 2-gateway/2-silo process cluster
# and 2 co-hosted nodes (each a silo and a gateway) (scripts/cluster.sh), in one run, side by side in one markdown table.
#
#   bench/cluster.sh [--quick] [--keep]
#
#   --quick   2 s per scenario instead of 10 s (a smoke test; the figures are noisy)
#   --keep    keep the work directory (meshbench JSON, relay and cluster logs) and print its path
#
# What it does, in order (every step bounded in time; a trap stops whatever it started, even on failure):
#   1. builds Relay once: dotnet build Relay.slnx -c Release
#   2. copies ../shared/bench (read-only; MESHBENCH_SRC overrides) to $MESHBENCH_DIR (default
#      /tmp/relay-meshbench-$UID) and runs `npm ci` there when node_modules is missing or stale
#   3. single node: dotnet src/Relay.Silo/bin/Release/net10.0/Relay.Silo.dll --urls http://127.0.0.1:PORT with
#      Cluster:SiloPort/GatewayPort on free ports; a discarded 3 s warm-up, then direct, broadcast, stream; stopped
#   4. split roles: scripts/cluster.sh up --silos 2 --gateways 2 --no-build --configuration Release on free ports
#      with its own CLUSTER_DIR; the same warm-up and scenarios with --url ws://gw1/ws,ws://gw2/ws (meshbench spreads
#      peers round-robin, so every direct pair crosses nodes and every broadcast reaches both gateways); then down.
#      Then co-hosted: the same with scripts/cluster.sh up --silos 2 --gateways 0 --combined (cross-node frames go
#      silo to silo instead of gateway -> silo -> gateway)
#   5. prints the table (markdown) on stdout; progress goes to stderr
#
# Every relay process gets Relay__RateLimitPerSecond=1000000 and Relay__RateLimitBurst=1000000 (the byte rate and the connect rate per address lifted likewise): the default
# per-connection limit (200 frames/s, bursts of 1000) would otherwise throttle the senders.
# Server CPU is sampled here from /proc/PID/stat (utime+stime) of every relay process (split: 2 silos,
# 2 gateways and redis; co-hosted: 2 nodes and redis) before and after each meshbench run, so it covers setup too, the same way on both sides.
# Exit status: 0 when every run passed meshbench's checks, 1 when one failed (the table still prints), 2 on error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MESHBENCH_SRC:-$repo/../shared/bench}
mb_dir=${MESHBENCH_DIR:-/tmp/relay-meshbench-$UID}
duration=10
keep=0
while (($#)); do
    case $1 in
        --quick) duration=2; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        *) echo "bench/cluster.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench_name=bench
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

export Relay__RateLimitPerSecond=1000000
export Relay__RateLimitBurst=1000000
export Relay__ByteRateLimitPerSecond=1000000000
export Relay__ByteRateLimitBurst=1000000000
# One client address holds every peer's socket: lift the connection and mesh-size limits too.
export Relay__MaxConnections=1000000
export Relay__MaxConnectionsPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000
export Relay__MaxPeersPerMesh=1000000

# Same parameters on both sides. --timeout bounds each run (setup included); `timeout` is the backstop.
mb_timeout=$((duration + 50))
declare -A params=(
    [direct]="--peers 16 --messages 20000 --payload 256 --window 16"
    [broadcast]="--peers 20 --senders 4 --messages 20000 --payload 256 --window 8"
    [stream]="--peers 10 --messages 200000 --payload 64 --window 32"
)
scenarios=(direct broadcast stream)

work=$(mktemp -d /tmp/relay-clusterbench.XXXXXX)
export CLUSTER_DIR=$work/cluster
single_pid=""
cluster_started=0

cleanup() {
    local rc=$?
    set +e
    if [[ -n $single_pid ]] && [[ -e /proc/$single_pid ]]; then
        say "stopping the single-node relay (pid $single_pid)"
        kill -TERM "$single_pid" 2>/dev/null
        for _ in $(seq 100); do [[ -e /proc/$single_pid ]] || break; sleep 0.1; done
        [[ -e /proc/$single_pid ]] && kill -KILL "$single_pid" 2>/dev/null
    fi
    stop_cluster_and_work
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CPU time of processes (clock ticks) ----------------------------------------------------------------
hz=$(getconf CLK_TCK)
cpu_ticks() { # pids... -> sum of utime+stime (a vanished process counts 0)
    local sum=0 p f
    for p in "$@"; do
        if f=$(cat "/proc/$p/stat" 2>/dev/null); then
            f=${f##*) }                   # drop "pid (comm) "; fields now start at 3 (state)
            read -r -a a <<<"$f"
            sum=$((sum + a[11] + a[12]))  # fields 14, 15
        fi
    done
    echo "$sum"
}
now_ms() { date +%s%3N; }

# --- 1. build, 2. meshbench ------------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "building Relay (Release)"
timeout 600 dotnet build "$repo/Relay.slnx" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log" >&2; die "build failed"; }
silo_dll=$repo/src/Relay.Silo/bin/Release/net10.0/Relay.Silo.dll
[[ -f $silo_dll ]] || die "$silo_dll missing after the build"

[[ -f $src/meshbench.mjs ]] || die "meshbench not found at $src (set MESHBENCH_SRC)"
mkdir -p "$mb_dir"
cp -r "$src/." "$mb_dir/"
if [[ ! -d $mb_dir/node_modules/ws ]] || ! cmp -s "$mb_dir/package-lock.json" "$mb_dir/node_modules/.lock-copy"; then
    say "npm ci in $mb_dir"
    (cd "$mb_dir" && timeout 300 npm ci --no-audit --no-fund >&2) || die "npm ci failed"
    cp "$mb_dir/package-lock.json" "$mb_dir/node_modules/.lock-copy"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# run_bench SIDE SCENARIO URL PIDS... : one meshbench run -> $work/SIDE-SCENARIO.json (+ .cpu: ticks ms)
failed=0
run_bench() {
    local side=$1 scenario=$2 url=$3; shift 3
    local out=$work/$side-$scenario.json extra=()
    [[ $side == single ]] && extra=(--pid "$1")
    local t0 c0 t1 c1 rc=0
    t0=$(now_ms); c0=$(cpu_ticks "$@")
    # shellcheck disable=SC2086
    timeout $((mb_timeout + 30)) node "$mb_dir/meshbench.mjs" --proto agimesh --url "$url" --scenario "$scenario" \
        ${params[$scenario]} --duration "$duration" --timeout "$mb_timeout" "${extra[@]}" --json >"$out" 2>"$work/$side-$scenario.err" || rc=$?
    t1=$(now_ms); c1=$(cpu_ticks "$@")
    echo "$((c1 - c0)) $((t1 - t0)) $hz $rc" >"$out.cpu"
    if ((rc != 0)); then
        failed=1
        say "$side $scenario: meshbench exit $rc ($(head -c 300 "$work/$side-$scenario.err" | tr '\n' ' '))"
    else
        say "$side $scenario: ok"
    fi
    sleep 1
}
warm_up() { # url
    timeout 60 node "$mb_dir/meshbench.mjs" --proto agimesh --url "$1" --scenario direct --peers 8 --messages 20000 \
        --payload 256 --window 16 --duration 3 --timeout 30 --json >/dev/null 2>&1 || say "warm-up failed (ignored)"
    sleep 1
}

# --- 3. single node ---------------------------------------------------------------------------------------
free_ports 1; http_port=$port; free_ports 1; silo_port=$port; free_ports 1; gw_port=$port
say "single node on 127.0.0.1:$http_port (Orleans ports $silo_port/$gw_port)"
(
    cd "$(dirname "$silo_dll")"
    exec setsid env Cluster__SiloPort="$silo_port" Cluster__GatewayPort="$gw_port" \
        dotnet "$silo_dll" --urls "http://127.0.0.1:$http_port" </dev/null >"$work/single.log" 2>&1
) &
single_pid=$!
for ((i = 0; ; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
    [[ -e /proc/$single_pid ]] || { tail -n 30 "$work/single.log" >&2; die "single-node relay exited"; }
    ((i < 240)) || die "single-node relay not healthy within 60 s"
    sleep 0.25
done
url="ws://127.0.0.1:$http_port/ws"
warm_up "$url"
for s in "${scenarios[@]}"; do run_bench single "$s" "$url" "$single_pid"; done
say "stopping the single-node relay"
kill -TERM "$single_pid"
timeout 30 tail --pid="$single_pid" -f /dev/null || kill -KILL "$single_pid" 2>/dev/null || true
single_pid=""

# --- 4. clusters -----------------------------------------------------------------------------------------
# run_cluster SIDE cluster.sh-options...: brings the topology up on free ports, warms up, runs the scenarios, stops it.
run_cluster() {
    local side=$1; shift
    free_ports 4; local base=$port; free_ports 1; local redis=$port; free_ports 2; local sport=$port; free_ports 2; local gport=$port
    say "$side: HTTP from $base, redis $redis, CLUSTER_DIR $CLUSTER_DIR"
    cluster_started=1
    local urls
    urls=$(timeout 180 "$repo/scripts/cluster.sh" up "$@" --no-build --configuration Release \
        --base-port "$base" --redis-port "$redis" --silo-port "$sport" --gateway-port "$gport" --timeout 120 | tail -n 1) \
        || die "cluster.sh up $* failed"
    [[ $urls == ws://*,ws://* ]] || die "unexpected URLs from cluster.sh up: $urls"
    local cpids
    mapfile -t cpids < <(awk '{print $2}' "$CLUSTER_DIR/pids")
    say "$side up: $urls (pids ${cpids[*]})"
    warm_up "$urls"
    for s in "${scenarios[@]}"; do run_bench "$side" "$s" "$urls" "${cpids[@]}"; done
    timeout 120 "$repo/scripts/cluster.sh" down >&2 || say "cluster.sh down reported a problem"
    cluster_started=0
}
run_cluster split --silos 2 --gateways 2
run_cluster cohosted --silos 2 --gateways 0 --combined

# --- 5. table ---------------------------------------------------------------------------------------------
cat <<EOF
Relay: single node vs 2 gateways + 2 silos, and vs 2 co-hosted nodes (each a silo and a gateway) (\`bench/cluster.sh\`), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))
Relay__RateLimitPerSecond=1000000, Relay__RateLimitBurst=1000000 on every relay process (the default 200/s would throttle the load).
Client (one Node process) and all servers share the machine's $(nproc) cores. Load average (1/5/15 min) before the build: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg).
meshbench ${duration} s per scenario (after a discarded 3 s warm-up on each side):
direct: ${params[direct]}; broadcast: ${params[broadcast]}; stream: ${params[stream]}.

EOF
node - "$work" <<'EOF'
const fs = require('fs'), path = require('path');
const dir = process.argv[2];
const load = (side, sc) => {
  let r = null, cpu = null;
  try { r = JSON.parse(fs.readFileSync(path.join(dir, `${side}-${sc}.json`), 'utf8')); } catch {}
  try { const [ticks, ms, hz, rc] = fs.readFileSync(path.join(dir, `${side}-${sc}.json.cpu`), 'utf8').trim().split(' ').map(Number);
        cpu = { s: ticks / hz, ms, rc }; } catch {}
  return { r, cpu };
};
const fmt = (v, d = 0) => v == null || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = [], notes = [];
const figure = { direct: ['msgs/s', m => m.msgs_per_s], broadcast: ['deliveries/s', m => m.deliveries_per_s], stream: ['msgs/s', m => m.msgs_per_s] };
rows.push('| scenario | figure | single node | 2 gateways + 2 silos | ratio (÷ single) | 2 co-hosted nodes | ratio (÷ single) | lost (single / split / co-hosted) | reordered (single / split / co-hosted) | client CPU % (single / split / co-hosted) | server CPU % (single / split / co-hosted) | server µs/delivery (single / split / co-hosted) |');
rows.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const sc of ['direct', 'broadcast', 'stream']) {
  const sides = [['single', load('single', sc)], ['split', load('split', sc)], ['cohosted', load('cohosted', sc)]];
  const mark = x => !x.r ? ' ✗' : (x.r.status === 'ok' ? '' : ' ✗');
  for (const [side, v] of sides) {
    if (!v.r) notes.push(`${side} ${sc}: no result (meshbench exit ${v.cpu ? v.cpu.rc : '?'})`);
    else if (v.r.status !== 'ok') notes.push(`${side} ${sc}: ${v.r.status}: ${[...(v.r.failures || []), ...(v.r.errors || [])].join('; ')}`);
  }
  const [fname, f] = figure[sc];
  const value = x => x.r ? f(x.r.metrics) : null;
  const p99 = x => x.r ? x.r.metrics.latency_ms.p99 : null;
  const [a, b, c] = sides.map(([, v]) => v);
  const ratio = (g, x, d) => g(a) && g(x) ? fmt(g(x) / g(a), d) : '–';
  const all = (g, d = 0) => sides.map(([, x]) => fmt(x.r ? g(x) : null, d)).join(' / ');
  const lost = all(x => x.r.metrics.lost), reo = all(x => x.r.metrics.reordered);
  const ccpu = all(x => x.r.client && x.r.client.cpu_pct);
  const scpu = all(x => x.cpu && 100 * x.cpu.s / (x.cpu.ms / 1000));
  const sus = all(x => x.cpu && x.r.metrics.delivered ? 1e6 * x.cpu.s / x.r.metrics.delivered : null, 1);
  rows.push(`| ${sc} | ${fname} | ${fmt(value(a))}${mark(a)} | ${fmt(value(b))}${mark(b)} | ${ratio(value, b, 2)} | ${fmt(value(c))}${mark(c)} | ${ratio(value, c, 2)} | ${lost} | ${reo} | ${ccpu} | ${scpu} | ${sus} |`);
  rows.push(`| ${sc} | p99 latency ms | ${fmt(p99(a), 1)} | ${fmt(p99(b), 1)} | ${ratio(p99, b, 2)} | ${fmt(p99(c), 1)} | ${ratio(p99, c, 2)} | | | | | |`);
}
console.log(rows.join('\n'));
console.log('\nCPU % is of one core (the machine has ' + require('os').cpus().length + '); server CPU sums every relay process (split: 2 silos, 2 gateways, redis; co-hosted: 2 nodes, redis) over the whole meshbench run, setup included.');
if (notes.length) console.log('\nFailed checks:\n' + notes.map(n => '- ' + n).join('\n'));
EOF
exit "$failed"

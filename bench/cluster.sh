#!/usr/bin/env bash
# Cluster benchmark: the same meshbench load against the single-process relay, a 2-gateway/2-silo process cluster,
# 2 co-hosted nodes (each a silo and a gateway) and the shipped cluster (3 co-hosted nodes: scripts/cluster.sh up with
# no topology flags, as docker-compose.yml), in one run, side by side in one markdown table.
#
#   bench/cluster.sh [--quick] [--keep] [--rounds N] [--sides LIST] [--scenarios LIST] [--warmup SECONDS] [--perf]
#                    [--no-build]
#
#   --quick      2 s per scenario instead of 10 s (a smoke test; the figures are noisy)
#   --keep       keep the work directory (meshbench JSON, relay and cluster logs, perf data) and print its path
#   --rounds N   N rounds (default 1), each the single node then every cluster side in turn, so that a change of the
#                machine's load hits every side alike; the table gives medians with the min-max over the rounds, and
#                each ratio is taken within its round (a cluster side ÷ the single node of the same round)
#   --sides L    comma-separated, of split,cohosted,shipped (default all three; the single node always runs: ratios
#                need it)
#   --scenarios L  comma-separated, of direct,broadcast,stream (default all three)
#   --warmup S   discarded warm-up of S seconds (default 30; 0: none) on each side before its measured runs: every
#                measured scenario in turn, with the scenario's own parameters (so cross-node directs and broadcasts
#                alike), S divided evenly among them. Why 30 (3 until 2026-12-08): after 3 s the three nodes' tiered
#                JIT still took 14.6 % (13.6-15.5) of the cluster's CPU in the measured direct run, against 1.8 % after
#                30 s, and direct CPU per delivery read 3.35 instead of 2.89 x the single node
#                (bench/results/2026-12-08-cross-node-settled.md): start-up cost, not the hop's
#   --perf       perf record (cpu-clock, 499 Hz, call graphs) of every relay process during each measured run;
#                the work directory (kept) gets perf-ROUND-SIDE-SCENARIO.data and .txt: the top symbols, the share of
#                thread wake-up/futex/scheduler frames. Relay processes then run with DOTNET_PerfMapEnabled=1 (all
#                sides alike, single included)
#   --no-build   run the Release build already there (a baseline worktree that must stay as built), no dotnet build
#
# What it does, in order (every step bounded in time; a trap stops whatever it started, even on failure):
#   1. builds Relay once: dotnet build Relay.slnx -c Release (unless --no-build)
#   2. copies ../shared/bench (read-only; MESHBENCH_SRC overrides) to $MESHBENCH_DIR (default
#      /tmp/relay-meshbench-$UID) and runs `npm ci` there when node_modules is missing or stale
#   3. per round: single node: dotnet src/Relay.Silo/bin/Release/net10.0/Relay.Silo.dll --urls http://127.0.0.1:PORT
#      with Cluster:SiloPort/GatewayPort on free ports; a discarded warm-up (--warmup), then the scenarios; stopped
#   4. per round, split roles: scripts/cluster.sh up --silos 2 --gateways 2 --no-build --configuration Release on
#      free ports with its own CLUSTER_DIR; the same warm-up and scenarios with --url ws://gw1/ws,ws://gw2/ws; then
#      down. Then co-hosted: the same with scripts/cluster.sh up --silos 2 --gateways 0 --combined (cross-node frames
#      go silo to silo instead of gateway -> silo -> gateway). Then shipped: scripts/cluster.sh up with no topology
#      flags (3 co-hosted nodes). meshbench puts peer i on URL i mod K (K nodes) and pairs direct peer i with peer
#      i + N/2, so a pair crosses nodes only when K does not divide N/2: direct runs 22 peers (11 pairs, all across on
#      2 nodes and on 3); every broadcast and stream reaches every node.
#   5. prints the table (markdown) on stdout; progress goes to stderr
#
# Every relay process gets Relay__RateLimitPerSecond=1000000 and Relay__RateLimitBurst=1000000 (the byte rate and the connect rate per address lifted likewise): the default
# per-connection limit (200 frames/s, bursts of 1000) would otherwise throttle the senders.
# Server CPU is sampled here from /proc/PID/stat (utime+stime) of every relay process (split: 2 silos,
# 2 gateways and redis; co-hosted and shipped: 2 or 3 nodes and redis) before and after each meshbench run, so it covers setup too, the
# same way on every side. "CPU/delivery ÷ single" is a side's server CPU per delivered message over the single node's.
# "JIT % of server CPU" is the share of that CPU taken by the processes' tiered-compilation threads (/proc/PID/task; a
# lower bound: a worker thread that ends during the run is not counted).
# Exit status: 0 when every run passed meshbench's checks, 1 when one failed (the table still prints), 2 on error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MESHBENCH_SRC:-$repo/../shared/bench}
mb_dir=${MESHBENCH_DIR:-/tmp/relay-meshbench-$UID}
duration=10
keep=0
rounds=1
sides_arg=split,cohosted,shipped
scenarios_arg=direct,broadcast,stream
perf=0
build=1
warmup=30
while (($#)); do
    case $1 in
        --quick) duration=2; shift ;;
        --keep) keep=1; shift ;;
        --rounds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench/cluster.sh: --rounds needs a positive number" >&2; exit 2; }; rounds=$2; shift 2 ;;
        --sides) sides_arg=${2:-}; shift 2 ;;
        --scenarios) scenarios_arg=${2:-}; shift 2 ;;
        --perf) perf=1; keep=1; shift ;;
        --no-build) build=0; shift ;;
        --warmup) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "bench/cluster.sh: --warmup needs a whole number of seconds" >&2; exit 2; }; warmup=$2; shift 2 ;;
        -h|--help) sed -n '2,51p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
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
export Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000
export Relay__MaxPeersPerMesh=1000000

# Same parameters on both sides. --timeout bounds each run (setup included); `timeout` is the backstop.
mb_timeout=$((duration + 50))
declare -A params=(
    [direct]="--peers 22 --messages 20000 --payload 256 --window 16"
    [broadcast]="--peers 20 --senders 4 --messages 20000 --payload 256 --window 8"
    [stream]="--peers 10 --messages 200000 --payload 64 --window 32"
)
IFS=, read -r -a scenarios <<<"$scenarios_arg"
IFS=, read -r -a sides <<<"$sides_arg"
for sc in "${scenarios[@]}"; do [[ -n ${params[$sc]:-} ]] || { echo "bench/cluster.sh: unknown scenario $sc" >&2; exit 2; }; done
for sd in "${sides[@]}"; do [[ $sd == split || $sd == cohosted || $sd == shipped ]] || { echo "bench/cluster.sh: unknown side $sd" >&2; exit 2; }; done
if ((perf)); then
    command -v perf >/dev/null || { echo "bench/cluster.sh: --perf needs perf (Debian: linux-perf)" >&2; exit 2; }
    # Names for JIT-compiled frames (/tmp/perf-PID.map), on every side alike.
    export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
fi

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
# jit_threads PIDS...: "PID/TID TICKS" (utime+stime) of each thread named ".NET Tiered Com" (the tiered-compilation
# worker; comm holds 15 characters). JIT still compiling during a measured run is start-up cost, not the hop's.
jit_threads() {
    local p t f
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            [[ $(cat "$t/comm" 2>/dev/null) == ".NET Tiered Com"* ]] || continue
            f=$(cat "$t/stat" 2>/dev/null) || continue
            f=${f##*) }
            read -r -a a <<<"$f"
            echo "$p/${t##*/} $((a[11] + a[12]))"
        done
    done
}
# jit_delta BEFORE AFTER (outputs of jit_threads): ticks the worker threads took in between. The runtime ends an idle
# worker and starts a new one later: a thread started during the run counts whole, one that ended during it not at
# all (its last ticks are unknown), so this is a lower bound.
jit_delta() {
    awk 'NR == FNR { before[$1] = $2; next } { sum += $2 - ($1 in before ? before[$1] : 0) } END { print sum + 0 }' \
        <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
now_ms() { date +%s%3N; }

# --- 1. build, 2. meshbench ------------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if ((build)); then
    say "building Relay (Release)"
    timeout 600 dotnet build "$repo/Relay.slnx" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; die "build failed"; }
fi
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

# run_bench ROUND SIDE SCENARIO URL PIDS... : one meshbench run -> $work/rROUND-SIDE-SCENARIO.json (+ .cpu: ticks ms)
failed=0
run_bench() {
    local round=$1 side=$2 scenario=$3 url=$4; shift 4
    local name=r$round-$side-$scenario
    local out=$work/$name.json extra=() perf_pid=""
    [[ $side == single ]] && extra=(--pid "$1")
    local t0 c0 t1 c1 j0 j1 rc=0
    if ((perf)); then
        # From 1 s in (setup done) for the sending time; stopped with SIGINT after meshbench at the latest.
        (sleep 1; exec perf record -F 499 -g -p "$(IFS=,; echo "$*")" -o "$work/perf-$name.data" -- sleep "$duration") \
            >/dev/null 2>"$work/perf-$name.err" &
        perf_pid=$!
    fi
    t0=$(now_ms); c0=$(cpu_ticks "$@"); j0=$(jit_threads "$@")
    # shellcheck disable=SC2086
    timeout $((mb_timeout + 30)) node "$mb_dir/meshbench.mjs" --proto agimesh --url "$url" --scenario "$scenario" \
        ${params[$scenario]} --duration "$duration" --timeout "$mb_timeout" "${extra[@]}" --json >"$out" 2>"$work/$name.err" || rc=$?
    t1=$(now_ms); c1=$(cpu_ticks "$@"); j1=$(jit_threads "$@")
    echo "$((c1 - c0)) $((t1 - t0)) $hz $rc $(jit_delta "$j0" "$j1")" >"$out.cpu"
    if [[ -n $perf_pid ]]; then
        timeout $((duration + 30)) tail --pid="$perf_pid" -f /dev/null || kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_summary "$work/perf-$name.data" >"$work/perf-$name.txt" 2>/dev/null || true
    fi
    if ((rc != 0)); then
        failed=1
        say "$name: meshbench exit $rc ($(head -c 300 "$work/$name.err" | tr '\n' ' '))"
    else
        say "$name: ok"
    fi
    sleep 1
}
# perf_summary DATA: the hottest symbols (self), and the share of samples in thread wake-ups and waits.
perf_summary() {
    local data=$1 total wake
    [[ -s $data ]] || { echo "no samples"; return; }
    perf report -i "$data" --no-children -g none --sort symbol --percent-limit 0.7 --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40
    # Samples whose stack passes through the kernel's futex/scheduler paths or .NET's thread-pool wait/wake.
    total=$(perf script -i "$data" -F period 2>/dev/null | wc -l)
    wake=$(perf script -i "$data" -F comm,tid,ip,sym 2>/dev/null | awk '
        /^[^ \t]/ { if (n) { c += hit }; n = 1; hit = 0; next }
        /futex|schedule|try_to_wake_up|LowLevelLifoSemaphore|WaitHandle|Monitor.Wait|SemaphoreSlim/ { hit = 1 }
        END { if (n) c += hit; print c + 0 }')
    echo "samples: $total; in thread wake-up/wait paths: $wake ($(awk -v w="$wake" -v t="$total" 'BEGIN { printf "%.0f", t ? 100 * w / t : 0 }') %)"
}
# warm_up URL: each measured scenario with its own parameters (the JIT must compile the paths measured, cross-node
# directs and broadcasts alike), $warmup seconds split among them; results discarded.
warm_up() { # url
    ((warmup > 0)) || return 0
    local each s p
    each=$(awk -v w="$warmup" -v n="${#scenarios[@]}" 'BEGIN { printf "%.2f", w / n }')
    for s in "${scenarios[@]}"; do
        # The scenario's --messages would end a long warm-up early (the single node sends 20,000 a sender in 3-7 s):
        # the duration alone bounds it.
        p=$(sed -E 's/--messages [0-9]+/--messages 100000000/' <<<"${params[$s]}")
        # shellcheck disable=SC2086
        timeout $((warmup + 90)) node "$mb_dir/meshbench.mjs" --proto agimesh --url "$1" --scenario "$s" $p \
            --duration "$each" --timeout $((warmup + 60)) --json >/dev/null 2>&1 || say "warm-up $s failed (ignored)"
    done
    sleep 1
}

# --- 3. single node ---------------------------------------------------------------------------------------
run_single() { # ROUND
    local round=$1
    free_ports 1; local http_port=$port; free_ports 1; local silo_port=$port; free_ports 1; local gw_port=$port
    say "round $round: single node on 127.0.0.1:$http_port (Orleans ports $silo_port/$gw_port)"
    (
        cd "$(dirname "$silo_dll")"
        exec setsid env Cluster__SiloPort="$silo_port" Cluster__GatewayPort="$gw_port" \
            dotnet "$silo_dll" --urls "http://127.0.0.1:$http_port" </dev/null >"$work/r$round-single.log" 2>&1
    ) &
    single_pid=$!
    local i
    for ((i = 0; ; i++)); do
        curl -sf -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
        [[ -e /proc/$single_pid ]] || { tail -n 30 "$work/r$round-single.log" >&2; die "single-node relay exited"; }
        ((i < 240)) || die "single-node relay not healthy within 60 s"
        sleep 0.25
    done
    local url="ws://127.0.0.1:$http_port/ws"
    warm_up "$url"
    for s in "${scenarios[@]}"; do run_bench "$round" single "$s" "$url" "$single_pid"; done
    say "stopping the single-node relay"
    kill -TERM "$single_pid"
    timeout 30 tail --pid="$single_pid" -f /dev/null || kill -KILL "$single_pid" 2>/dev/null || true
    single_pid=""
}

# --- 4. clusters -----------------------------------------------------------------------------------------
# run_cluster ROUND SIDE cluster.sh-options...: brings the topology up on free ports, warms up, runs the scenarios, stops it.
run_cluster() {
    local round=$1 side=$2; shift 2
    free_ports 4; local base=$port; free_ports 1; local redis=$port; free_ports 4; local sport=$port; free_ports 4; local gport=$port
    export CLUSTER_DIR=$work/cluster-r$round-$side
    say "round $round: $side: HTTP from $base, redis $redis, CLUSTER_DIR $CLUSTER_DIR"
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
    for s in "${scenarios[@]}"; do run_bench "$round" "$side" "$s" "$urls" "${cpids[@]}"; done
    timeout 120 "$repo/scripts/cluster.sh" down >&2 || say "cluster.sh down reported a problem"
    cluster_started=0
}

for ((round = 1; round <= rounds; round++)); do
    run_single "$round"
    for sd in "${sides[@]}"; do
        case $sd in
            split) run_cluster "$round" split --silos 2 --gateways 2 ;;
            cohosted) run_cluster "$round" cohosted --silos 2 --gateways 0 --combined ;;
            shipped) run_cluster "$round" shipped ;;
        esac
    done
done

# --- 5. table ---------------------------------------------------------------------------------------------
params_text=""
for sc in "${scenarios[@]}"; do params_text+="$sc: ${params[$sc]}; "; done
perf_text=""
((perf)) && perf_text=" perf record ran during every measured run (DOTNET_PerfMapEnabled=1 on every side); its summaries are in $work."
cat <<EOF
Relay: single node vs ${sides[*]} (split: 2 gateways + 2 silos; cohosted: 2 nodes, each a silo and a gateway; shipped: 3 such nodes) (\`bench/cluster.sh\`), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))
Relay__RateLimitPerSecond=1000000, Relay__RateLimitBurst=1000000 on every relay process (the default 200/s would throttle the load).
Client (one Node process) and all servers share the machine's $(nproc) cores. Load average (1/5/15 min) before the build: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg).
$rounds round(s), each: single node, then ${sides[*]}; meshbench ${duration} s per scenario (after a discarded ${warmup} s warm-up on each side, the scenarios in turn):
${params_text%; }.$perf_text

EOF
node - "$work" "$rounds" "$scenarios_arg" "$sides_arg" <<'EOF'
const fs = require('fs'), path = require('path');
const [dir, roundsArg, scArg, sideArg] = process.argv.slice(2);
const rounds = Number(roundsArg), scenarios = scArg.split(','), sides = ['single', ...sideArg.split(',')];
const label = { single: 'single node', split: '2 gateways + 2 silos', cohosted: '2 co-hosted nodes', shipped: '3 co-hosted nodes (shipped)' };
const load = (round, side, sc) => {
  let r = null, cpu = null;
  const f = path.join(dir, `r${round}-${side}-${sc}.json`);
  try { r = JSON.parse(fs.readFileSync(f, 'utf8')); } catch {}
  try { const [ticks, ms, hz, rc, jit] = fs.readFileSync(f + '.cpu', 'utf8').trim().split(' ').map(Number);
        cpu = { s: ticks / hz, ms, rc, jit: Number.isFinite(jit) ? jit / hz : null }; } catch {}
  return { r, cpu };
};
const fmt = (v, d = 0) => v == null || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const finite = (xs) => xs.filter((x) => x != null && Number.isFinite(x));
const median = (xs) => { const a = finite(xs).sort((p, q) => p - q); if (!a.length) return null;
  const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
// "median (min-max)" over the rounds; just the value for one round.
const spread = (xs, d) => { const a = finite(xs); if (!a.length) return '–';
  const m = fmt(median(a), d); return a.length > 1 ? `${m} (${fmt(Math.min(...a), d)}-${fmt(Math.max(...a), d)})` : m; };
const figure = { direct: ['msgs/s', (m) => m.msgs_per_s], broadcast: ['deliveries/s', (m) => m.deliveries_per_s], stream: ['msgs/s', (m) => m.msgs_per_s] };
const value = (x, sc) => (x.r && x.r.metrics ? figure[sc][1](x.r.metrics) : null);
const usPer = (x) => (x.cpu && x.r && x.r.metrics && x.r.metrics.delivered ? 1e6 * x.cpu.s / x.r.metrics.delivered : null);
const cpuPct = (x) => (x.cpu ? 100 * x.cpu.s / (x.cpu.ms / 1000) : null);
const jitPct = (x) => (x.cpu && x.cpu.jit != null && x.cpu.s ? 100 * x.cpu.jit / x.cpu.s : null);
const notes = [];
const rows = [
  '| scenario | figure | side | value | ÷ single | server µs/delivery | CPU/delivery ÷ single | p99 ms | server CPU % | JIT % of server CPU | client CPU % | lost / reordered (all rounds) |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const sc of scenarios) {
  const runs = Object.fromEntries(sides.map((sd) => [sd, Array.from({ length: rounds }, (_, i) => load(i + 1, sd, sc))]));
  for (const sd of sides) runs[sd].forEach((x, i) => {
    if (!x.r) notes.push(`round ${i + 1} ${sd} ${sc}: no result (meshbench exit ${x.cpu ? x.cpu.rc : '?'})`);
    else if (x.r.status !== 'ok') notes.push(`round ${i + 1} ${sd} ${sc}: ${x.r.status}: ${[...(x.r.failures || []), ...(x.r.errors || [])].join('; ')}`);
  });
  for (const sd of sides) {
    const xs = runs[sd], base = runs.single;
    const ratio = (g) => (sd === 'single' ? '' : spread(xs.map((x, i) => (g(x) != null && g(base[i]) ? g(x) / g(base[i]) : null)), 2));
    const sum = (g) => xs.reduce((t, x) => t + (x.r && x.r.metrics ? g(x.r.metrics) || 0 : 0), 0);
    const bad = xs.some((x) => !x.r || x.r.status !== 'ok') ? ' ✗' : '';
    rows.push(`| ${sc} | ${figure[sc][0]} | ${label[sd]} | ${spread(xs.map((x) => value(x, sc)), 0)}${bad} | ${ratio((x) => value(x, sc))} | ` +
      `${spread(xs.map(usPer), 1)} | ${ratio(usPer)} | ${spread(xs.map((x) => (x.r && x.r.metrics ? x.r.metrics.latency_ms.p99 : null)), 1)} | ` +
      `${spread(xs.map(cpuPct), 0)} | ${spread(xs.map(jitPct), 1)} | ${spread(xs.map((x) => x.r && x.r.client && x.r.client.cpu_pct), 0)} | ${sum((m) => m.lost)} / ${sum((m) => m.reordered)} |`);
  }
}
console.log(rows.join('\n'));
console.log(`\nValues are medians over ${rounds} round(s), (min-max) when more than one; a ratio is taken within each round, then its median. ` +
  'CPU % is of one core (the machine has ' + require('os').cpus().length + '); server CPU sums every relay process (split: 2 silos, 2 gateways, redis; ' +
  'co-hosted: 2 or 3 nodes, redis) over the whole meshbench run, setup included.');
if (notes.length) console.log('\nFailed checks:\n' + notes.map((n) => '- ' + n).join('\n'));
EOF
exit "$failed"

#!/usr/bin/env bash
# Relay beside the limit: publishes Relay (Release, ReadyToRun: bench/publish.sh), then runs the shared meshbench compare
# (../shared/bench/compare.sh) with `--servers limit-hub,ours` and its default (non-quick) parameters.
#
#   bench/compare.sh [--keep-logs] [--out PATH] [any other compare.sh option]
#
# "ours" is the single-process relay: dotnet Relay.Silo.dll from bench/publish.sh's directory on the port
# compare.sh gives it, with its Orleans silo and gateway ports on free ports found here (the defaults 11111 and
# 30000 may be taken by tests running on the same machine). Its readiness URL is /healthz (200 once the silo has
# joined and the gateway accepts sockets), not /ping.
# Rate limits: Relay__RateLimitPerSecond=1000000 and Relay__RateLimitBurst=1000000 (and the byte rate, the connect rate per address lifted likewise). The default per-connection limit
# (200 frames/s, bursts of 1000) would throttle meshbench's senders; limit-hub has no rate limit.
#
# The shared kit is read-only and must stay untouched: it is copied (timestamps kept, so limit-hub is built only
# when its sources change) to $MESHBENCH_DIR (default /tmp/relay-compare-$UID), where compare.sh runs `npm ci` and
# builds limit-hub itself when they are missing. compare.sh's table (markdown), then bench/ratios.mjs's (Relay ÷
# limit-hub per target, with each side's CPU and the bottleneck) go to stdout, progress to stderr; JSON to --out
# (default: $MESHBENCH_DIR/results.json). Exit status: compare.sh's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MESHBENCH_SRC:-$repo/../shared/bench}
kit=${MESHBENCH_DIR:-/tmp/relay-compare-$UID}
bench_name=bench/compare.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

out=$kit/results.json
args=()
while (($#)); do
    case $1 in
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[[ -f $src/compare.sh ]] || die "meshbench kit not found at $src (set MESHBENCH_SRC)"

say "publishing Relay (Release, ReadyToRun: bench/publish.sh)"
silo_dir=$(bash "$repo/bench/publish.sh") || die "publish failed"

mkdir -p "$kit"
cp -r --preserve=timestamps "$src/." "$kit/"
chmod -R u+w "$kit"

# Two free TCP ports for Orleans (silo-to-silo and client gateway), from a random start.
free_ports 1; silo_port=$port
free_ports 1; gateway_port=$port

export OURS_CMD="cd '$silo_dir' && exec env Cluster__SiloPort=$silo_port Cluster__GatewayPort=$gateway_port \
Relay__RateLimitPerSecond=1000000 Relay__RateLimitBurst=1000000 Relay__ByteRateLimitPerSecond=1000000000 Relay__ByteRateLimitBurst=1000000000 Relay__MaxConnections=1000000 Relay__MaxConnectionsPerAddress=1000000 Relay__MaxMeshesPerAddress=1000000 Relay__ConnectsPerSecondPerAddress=1000000 Relay__ConnectBurstPerAddress=1000000 Relay__MaxPeersPerMesh=1000000 dotnet Relay.Silo.dll --urls http://127.0.0.1:\$PORT"
export OURS_URL='ws://127.0.0.1:{PORT}/ws'
export OURS_READY='http://127.0.0.1:{PORT}/healthz'
say "ours: Relay.Silo (Release, single process), Orleans ports $silo_port/$gateway_port, rate limit 1000000/s"
say "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# compare.sh's default ports (18700, 18701) may be in use by another run on the machine: pick two free ones.
if [[ " ${args[*]} " != *" --port "* ]]; then
    free_ports 2; base=$port
    args+=(--port "$base")
fi
rc=0
bash "$kit/compare.sh" --servers limit-hub,ours --out "$out" "${args[@]}" || rc=$?
[[ -f $out ]] && { echo; node "$repo/bench/ratios.mjs" "$out"; }
exit "$rc"

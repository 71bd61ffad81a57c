#!/usr/bin/env bash
# Publishes Relay.Silo as the benchmarks run it: Release, ReadyToRun for this machine's runtime (framework-dependent),
# into RELAY_PUBLISH_DIR (default src/Relay.Silo/bin/Release/r2r), and prints that directory.
#
#   silo_dir=$(bench/publish.sh)
#
# ReadyToRun precompiles Relay's assemblies and its packages' (Orleans, OpenTelemetry, ...), so a fresh process starts
# from native code instead of compiling each method at its first call (docs/performance.md, "What changed and why"). Build output goes to
# stderr only when the publish fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${RELAY_PUBLISH_DIR:-$repo/src/Relay.Silo/bin/Release/r2r}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 900 dotnet publish "$repo/src/Relay.Silo" -c Release --use-current-runtime --self-contained false \
    -p:PublishReadyToRun=true -p:UseAppHost=false -o "$out" -nologo -v quiet >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; printf 'bench/publish.sh: publish failed\n' >&2; exit 2; }
[[ -f $out/Relay.Silo.dll ]] || { printf 'bench/publish.sh: %s/Relay.Silo.dll missing after the publish\n' "$out" >&2; exit 2; }
echo "$out"

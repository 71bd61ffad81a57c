#!/usr/bin/env bash
# BenchmarkDotNet microbenchmarks of the per-frame protocol work (bench/Relay.Benchmarks): parsing, stamping, routing
# decisions and the whole forwarding path, with [MemoryDiagnoser] (bytes allocated per operation).
#
#   bench/run-benchmarks.sh                      # every benchmark: short job, in process (about 3 minutes)
#   bench/run-benchmarks.sh --filter '*Stamp*'   # BenchmarkDotNet options replace the defaults (--job short --inProcess --filter '*'; in process: no separate build of a runner)
#
# Results: the table on stdout; reports in bench/Relay.Benchmarks/BenchmarkDotNet.Artifacts/results/ (ignored by git).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(($#)) || set -- --job short --inProcess --filter '*'
# Without --inProcess, BenchmarkDotNet builds a runner next to the project it finds in the current directory.
cd "$repo/bench/Relay.Benchmarks"
exec dotnet run -c Release -- "$@"

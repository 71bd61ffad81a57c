#!/usr/bin/env bash
# Runs the whole test suite: protocol unit tests, grain tests (Orleans TestingHost) and end-to-end tests
# against the real relay on 127.0.0.1. Restores NuGet packages on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet test Relay.slnx -c Release --logger "console;verbosity=minimal" "$@"

#!/usr/bin/env bash
# Runs the whole test suite: unit and grain tests (tests/Relay.Tests, Orleans TestingHost) and the integration tests
# (tests/Relay.IntegrationTests: the real relay on 127.0.0.1, clusters of processes with Redis, Chromium, Docker).
# First it prepares what those tests need when missing (scripts/prepare-tests.sh; RELAY_TEST_PREPARE=0 skips that).
# Arguments go to `dotnet test`, e.g. --filter "FullyQualifiedName~Grains".
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${RELAY_TEST_PREPARE:-1} != 0 ]]; then
    source scripts/prepare-tests.sh
    trap prepare_cleanup EXIT
    prepare_tests
fi
dotnet test Relay.slnx -c Release --logger "console;verbosity=minimal" "$@"

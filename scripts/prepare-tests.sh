#!/usr/bin/env bash
# Prepares this machine for the test suite; scripts/test.sh sources it, so a fresh clone on a fresh Debian machine
# needs nothing else run first. Each step only acts when something is missing, so a second run is quick:
#   redis-server, redis-cli  the cluster tests (scripts/cluster.sh, with Redis clustering)
#   chromium, node, npm      the dashboard's browser test drives Debian's chromium with playwright-core from
#                            tests/dashboard (npm ci there; no browser download); the scale test runs the load
#                            client of bench/scale (npm ci there: ws)
#   docker.io, debootstrap   the compose tests run docker-compose.yml for real: dockerd is started when none answers
#                            (and stopped when scripts/test.sh ends), then scripts/docker-standins.sh provides
#                            Compose v2 and, when no registry can be reached, local stand-ins for the images, and
#                            the relay's image is built once (its layers make the tests' `up --build` quick)
# Packages come from apt, as root or through sudo. Where that is impossible the step says so and moves on: the tests
# that need the tool then skip or fail with their own message -- except under CI=true, where a step that cannot be
# done fails the run here. Set RELAY_TEST_PREPARE=0 to skip this file entirely.

prepare_say() { printf '== %s\n' "$*" >&2; }
prepare_fail() {
    prepare_say "$*"
    if [[ ${CI:-} == true ]]; then return 1; fi
    return 0
}

prepare_apt_install() { # package...
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
            prepare_fail "cannot install $* (not root, no password-less sudo): install them to run every test"
            return
        fi
        sudo=(sudo -n)
    fi
    if [[ -z ${prepare_apt_updated:-} ]]; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || { prepare_fail "apt-get update failed"; return; }
        prepare_apt_updated=1
    fi
    prepare_say "installing $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || prepare_fail "apt-get install $* failed"
}

prepare_redis() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        prepare_apt_install redis-server || return
    fi
    command -v redis-server >/dev/null && prepare_say "$(redis-server --version | cut -d' ' -f1-3)"
    return 0
}

prepare_browser() {
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v npm >/dev/null || missing+=(nodejs npm)
    if ((${#missing[@]})); then prepare_apt_install "${missing[@]}" || return; fi
    command -v npm >/dev/null || return 0
    local dir
    for dir in tests/dashboard bench/scale; do
        # npm ci starts from scratch each time; skip it while the installed tree matches the lock file.
        if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
            (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
                || { prepare_fail "npm ci in $dir failed"; return; }
        fi
    done
    prepare_say "$(chromium --version 2>/dev/null | head -1), node $(node --version)"
}

prepare_docker() {
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
        prepare_apt_install docker.io debootstrap || return
    fi
    command -v dockerd >/dev/null || return 0
    if ! docker version >/dev/null 2>&1; then
        if [[ $(id -u) != 0 ]]; then
            prepare_fail "no Docker engine answers and only root can start dockerd here"
            return
        fi
        local log=${TMPDIR:-/tmp}/relay-test-dockerd.log waited=0
        dockerd >"$log" 2>&1 &
        prepare_dockerd_pid=$!
        until docker version >/dev/null 2>&1; do
            if ((waited++ >= 120)) || ! kill -0 "$prepare_dockerd_pid" 2>/dev/null; then
                tail -n 20 "$log" >&2
                prepare_fail "dockerd did not start (log: $log)"
                return
            fi
            sleep 0.5
        done
    fi
    prepare_say "docker engine $(docker version --format '{{.Server.Version}}')"
    bash scripts/docker-standins.sh || { prepare_fail "scripts/docker-standins.sh failed: the compose tests cannot run"; return; }
    # The compose tests start with `docker compose up --build`. The image's first, uncached build takes both cores of a
    # fresh machine for minutes; done here, it does not run beside the parallel tests (whose timings it would starve),
    # and the tests' builds reuse its layers.
    local build_log=${TMPDIR:-/tmp}/relay-test-image-build.log started=$SECONDS
    if ! docker compose -p relay-test-prepare build >"$build_log" 2>&1; then
        tail -n 20 "$build_log" >&2
        prepare_fail "docker compose build failed (log: $build_log): the compose tests cannot run"
        return
    fi
    prepare_say "relay image built in $((SECONDS - started)) s"
}

# Stops the Docker engine prepare_docker started (none when one was already running).
prepare_cleanup() {
    if [[ -n ${prepare_dockerd_pid:-} ]]; then
        kill -TERM "$prepare_dockerd_pid" 2>/dev/null && wait "$prepare_dockerd_pid" 2>/dev/null || true
    fi
}

prepare_tests() {
    # The cluster and limit tests open many sockets; lift the soft open-file limit to the hard one.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    prepare_redis && prepare_browser && prepare_docker
}

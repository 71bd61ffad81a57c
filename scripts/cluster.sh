#!/usr/bin/env bash
# The docker-compose.yml topology as plain processes on 127.0.0.1 (no container engine needed): a private
# redis-server and three co-hosted nodes (Relay.Silo, Cluster:Role=Combined: each process an Orleans silo and a
# WebSocket gateway), or, with topology flags, N silos (Cluster:Role=Silo) and M gateway-only nodes (Relay.Gateway).
#
#   scripts/cluster.sh up [--silos N] [--gateways M] [--combined] [--base-port P] [--redis-port R]
#                         [--silo-port S] [--gateway-port G] [--configuration C] [--no-build] [--timeout SECONDS]
#   scripts/cluster.sh down      stops exactly what `up` started (recorded PIDs), gateways first
#   scripts/cluster.sh status    what runs, and the nodes' URLs
#   scripts/cluster.sh kill NAME      SIGKILL to one recorded process (redis, node1, silo1, gateway2, ...): a crash
#   scripts/cluster.sh restart NAME [--timeout SECONDS]
#                                 starts one recorded process again as `up` started it (stopping it first if it
#                                 still runs) and waits until it is ready, as an orchestrator restarting a crashed node
#   scripts/cluster.sh env [same options as up]   prints "<process> KEY=VALUE" lines: the settings `up` gives
#                                                 each process (a test compares them with docker-compose.yml)
#
# Topology. No --silos, --gateways or --combined: what docker-compose.yml ships, three co-hosted nodes node1..node3
# (the cheaper topology for cross-node traffic, docs/architecture.md "Which topology to run"). Any of the three flags:
# split roles as before, N silos silo1..siloN and M gateways gateway1..gatewayM (unset ones default to 2 each);
# with --combined every silo is instead a whole relay node, named node1..nodeN, so `--silos 2 --gateways 0 --combined`
# is two co-hosted nodes and `--silos 2 --gateways 2` the split cluster the tests and benchmarks use.
# Ports (k = 1, 2, ...): gateway k serves HTTP and WebSockets on P+k-1 (default P=8080: 8080, 8081, ...);
# silo or node k has Orleans ports S+k-1 / G+k-1 (defaults 11111 / 30000) and answers /ping and /healthz over HTTP
# on P+M+k-1 (a node, /ws too: the shipped topology serves 8080, 8081, 8082); redis listens on R (default 6379).
# Every process inherits the caller's environment, so extra settings pass straight through
# (e.g. Relay__StaleTimeout=00:00:05 scripts/cluster.sh up); the cluster settings this script sets win.
# Progress goes to stderr; the last line on stdout is the WebSocket URLs (gateways', then nodes'), comma-separated.
# State (PIDs, logs, redis dir) lives in $CLUSTER_DIR (default .cluster/ in the repository, ignored by git).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CLUSTER_DIR:-$repo/.cluster}
pids_file=$state/pids

# Empty until a flag sets them: no topology flag at all means the shipped topology (parse_options).
silos=""
gateways=""
combined=0
base_port=8080
redis_port=6379
silo_port=11111
gateway_port=30000
configuration=Release
build=1
timeout=120

# The cluster settings shared by every process; docker-compose.yml sets the same names and values (a test checks).
cluster_id=relay
service_id=relay
# Failure detection for production: a crashed silo is declared dead in about 5-8 s (Orleans' defaults, 00:00:05 / 3 / 2,
# take 12-17 s, too late for a co-hosted node's peers to go offline within 40 s of their last frame), while a healthy
# one must miss three probes in a row to be suspected. docs/operations.md "Failure detection" has the figures.
probe_timeout=00:00:02
missed_probes=3
death_votes=2

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    # The header comment above, whatever its length: every line after the first up to the first that is not one.
    awk 'NR > 1 && !/^#/ {exit} NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

parse_options() {
    while (($#)); do
        case $1 in
            --silos) silos=$2; shift 2 ;;
            --gateways) gateways=$2; shift 2 ;;
            --combined) combined=1; shift ;;
            --base-port) base_port=$2; shift 2 ;;
            --redis-port) redis_port=$2; shift 2 ;;
            --silo-port) silo_port=$2; shift 2 ;;
            --gateway-port) gateway_port=$2; shift 2 ;;
            --configuration|-c) configuration=$2; shift 2 ;;
            --no-build) build=0; shift ;;
            --timeout) timeout=$2; shift 2 ;;
            -h|--help) usage ;;
            *) die "unknown option: $1 (see scripts/cluster.sh --help)" ;;
        esac
    done
    if [[ -z $silos && -z $gateways ]] && ((!combined)); then
        # The shipped topology, as docker-compose.yml: three co-hosted nodes (measured cheaper than split roles for
        # every cross-node figure, bench/results/2026-12-03-cluster-quiet.md).
        silos=3 gateways=0 combined=1
    fi
    # A topology flag given: split roles exactly as before this default changed (callers pass what they need).
    silos=${silos:-2} gateways=${gateways:-2}
    for n in "$silos" "$gateways" "$base_port" "$redis_port" "$silo_port" "$gateway_port" "$timeout"; do
        [[ $n =~ ^[0-9]+$ ]] || die "not a number: $n"
    done
    ((silos >= 1)) || die "--silos must be at least 1"
    ((gateways >= 1 || combined)) || die "no process would serve WebSockets: --gateways 0 needs --combined"
    ((base_port + gateways + silos - 1 <= 65535 && silo_port + silos - 1 <= 65535 && gateway_port + silos - 1 <= 65535)) \
        || die "ports out of range"
}

# silo k's process name: nodeK when it is a whole relay node (the compose service names), else siloK.
silo_name() { if ((combined)); then echo "node$1"; else echo "silo$1"; fi; }

silo_dll() { echo "$repo/src/Relay.Silo/bin/$configuration/net10.0/Relay.Silo.dll"; }
gateway_dll() { echo "$repo/src/Relay.Gateway/bin/$configuration/net10.0/Relay.Gateway.dll"; }
gateway_http_port() { echo $((base_port + $1 - 1)); }
silo_http_port() { echo $((base_port + gateways + $1 - 1)); }

# The environment of one process, KEY=VALUE per line: the same variable names as docker-compose.yml.
common_env() {
    echo "Cluster__Redis=127.0.0.1:$redis_port"
    echo "Cluster__ClusterId=$cluster_id"
    echo "Cluster__ServiceId=$service_id"
    echo "Cluster__ProbeTimeout=$probe_timeout"
    echo "Cluster__NumMissedProbesLimit=$missed_probes"
    echo "Cluster__NumVotesForDeathDeclaration=$death_votes"
}
silo_env() {
    common_env
    if ((combined)); then echo "Cluster__Role=Combined"; else echo "Cluster__Role=Silo"; fi
    echo "Cluster__AdvertisedIPAddress=127.0.0.1"
    echo "Cluster__SiloPort=$((silo_port + $1 - 1))"
    echo "Cluster__GatewayPort=$((gateway_port + $1 - 1))"
    echo "ASPNETCORE_URLS=http://127.0.0.1:$(silo_http_port "$1")"
}
gateway_env() {
    common_env
    echo "Cluster__Role=Gateway"
    echo "ASPNETCORE_URLS=http://127.0.0.1:$(gateway_http_port "$1")"
}

ws_urls() {
    local urls=() k
    for ((k = 1; k <= gateways; k++)); do urls+=("ws://127.0.0.1:$(gateway_http_port "$k")/ws"); done
    if ((combined)); then
        for ((k = 1; k <= silos; k++)); do urls+=("ws://127.0.0.1:$(silo_http_port "$k")/ws"); done
    fi
    (IFS=,; echo "${urls[*]}")
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# 0 when GET http://127.0.0.1:<port><path> answers 200 (plain bash: no curl needed).
http_ok() {
    local port=$1 path=$2 status=""
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3 || { exec 3<&- 3>&-; return 1; }
    IFS= read -r -t 5 status <&3 || true
    exec 3<&- 3>&-
    [[ $status == HTTP/1.?" 200"* ]]
}

# Start time of a process (field 22 of /proc/PID/stat), so `down` never signals a recycled PID.
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

# A killed process whose parent has not reaped it yet (a zombie, state Z: where PID 1 does not reap orphans) is gone.
alive() { # name pid start
    [[ -e /proc/$2 ]] && [[ $(start_time "$2") == "$3" ]] && [[ $(awk '{print $3}' "/proc/$2/stat" 2>/dev/null) != Z ]]
}

# start NAME DIR ENVFILE -- COMMAND...: runs COMMAND detached (own session), cwd DIR (its content root, where
# appsettings.json is), stdin closed, output appended to logs/NAME.log; records "NAME PID START" in the PID file
# (replacing an earlier line of NAME) and how it was started in run/NAME.launch, for `restart`.
start() {
    local name=$1 dir=$2 envfile=$3; shift 4
    local log=$state/logs/$name.log pidfile=$state/run/$name.pid
    rm -f "$pidfile"
    printf '%s\n' "$dir" "$envfile" "$@" >"$state/run/$name.launch"
    if [[ -s $pids_file ]]; then
        awk -v n="$name" '$1 != n' "$pids_file" >"$pids_file.tmp" && mv "$pids_file.tmp" "$pids_file"
    fi
    local launcher=()
    command -v setsid >/dev/null && launcher=(setsid -f)
    "${launcher[@]}" bash -c 'pidfile=$1 dir=$2 envfile=$3; shift 3
        echo $$ > "$pidfile"; cd "$dir"
        mapfile -t vars < "$envfile"
        exec env "${vars[@]}" "$@"' start "$pidfile" "$dir" "$envfile" "$@" </dev/null >>"$log" 2>&1 &
    local waited=0
    while [[ ! -s $pidfile ]]; do
        sleep 0.05; waited=$((waited + 1))
        ((waited < 200)) || die "$name did not start (see $log)"
    done
    local pid; pid=$(<"$pidfile")
    sleep 0.05
    echo "$name $pid $(start_time "$pid")" >>"$pids_file"
    say "started $name (pid $pid, log $log)"
}

# Waits until `check` succeeds, failing early when the process died, and at the shared deadline.
wait_for() { # name pid description check...
    local name=$1 pid=$2 what=$3; shift 3
    until "$@" 2>/dev/null; do
        if [[ ! -e /proc/$pid ]]; then
            say "$name exited before it was ready; last lines of its log:"
            tail -n 30 "$state/logs/$name.log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            say "$name: no $what within ${timeout}s; last lines of its log:"
            tail -n 30 "$state/logs/$name.log" >&2 || true
            return 1
        fi
        sleep 0.25
    done
}

pid_of() { awk -v n="$1" '$1 == n {print $2}' "$pids_file"; }

# Waits until NAME answers as run/NAME.ready says: "redis PORT" (PONG) or "http PORT" (/healthz 200).
wait_for_ready() {
    local name=$1 kind port
    read -r kind port <"$state/run/$name.ready"
    case $kind in
        redis) wait_for "$name" "$(pid_of "$name")" "PONG" bash -c "[[ \$(redis-cli -p $port ping) == PONG ]]" ;;
        http) wait_for "$name" "$(pid_of "$name")" "/healthz" http_ok "$port" /healthz ;;
    esac
}

recorded() { # NAME -> its "pid start" from the PID file, or fails
    [[ -s $pids_file ]] && awk -v n="$1" '$1 == n {print $2, $3; found = 1} END {exit !found}' "$pids_file"
}

cmd_kill() {
    local name=${1:-} pid st
    [[ -n $name ]] || die "usage: scripts/cluster.sh kill NAME"
    read -r pid st < <(recorded "$name") || die "no process $name recorded in $pids_file"
    alive "$name" "$pid" "$st" || die "$name (pid $pid) is not running"
    kill -KILL "$pid"
    say "killed $name (pid $pid)"
}

cmd_restart() {
    local name=${1:-} pid st
    [[ -n $name ]] || die "usage: scripts/cluster.sh restart NAME [--timeout SECONDS]"
    shift
    if [[ ${1:-} == --timeout ]]; then timeout=$2; fi
    [[ -f $state/run/$name.launch ]] || die "no process $name was started in $state"
    if read -r pid st < <(recorded "$name") && alive "$name" "$pid" "$st"; then stop_group "$name"; fi
    local launch
    mapfile -t launch <"$state/run/$name.launch"
    deadline=$((SECONDS + timeout))
    start "$name" "${launch[0]}" "${launch[1]}" -- "${launch[@]:2}"
    wait_for_ready "$name" || die "$name did not become ready"
    say "$name restarted and ready"
}

ensure_redis() {
    command -v redis-server >/dev/null && return 0
    say "redis-server is missing: installing Debian's redis-server"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    { "${sudo[@]}" apt-get install -y redis-server || { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y redis-server; }; } >&2 \
        || die "could not install redis-server"
    command -v redis-server >/dev/null || die "redis-server still missing"
}

cmd_env() {
    parse_options "$@"
    local k line
    for ((k = 1; k <= silos; k++)); do silo_env "$k" | while IFS= read -r line; do echo "$(silo_name "$k") $line"; done; done
    for ((k = 1; k <= gateways; k++)); do gateway_env "$k" | while IFS= read -r line; do echo "gateway$k $line"; done; done
}

cmd_up() {
    parse_options "$@"
    if [[ -s $pids_file ]]; then
        local name pid st
        while read -r name pid st; do
            alive "$name" "$pid" "$st" && die "a cluster is already up in $state ($name, pid $pid): run scripts/cluster.sh down first"
        done <"$pids_file"
        rm -f "$pids_file"
    fi

    local ports=("$redis_port") k
    for ((k = 1; k <= gateways; k++)); do ports+=("$(gateway_http_port "$k")"); done
    for ((k = 1; k <= silos; k++)); do ports+=("$(silo_http_port "$k")" $((silo_port + k - 1)) $((gateway_port + k - 1))); done
    local port
    for port in "${ports[@]}"; do
        port_in_use "$port" && die "port $port on 127.0.0.1 is already in use (choose other ports: --base-port, --redis-port, --silo-port, --gateway-port)"
    done

    ensure_redis
    if ((build)); then
        say "building ($configuration)"
        dotnet build "$repo/src/Relay.Silo/Relay.Silo.csproj" -c "$configuration" -nologo -v quiet >&2 || die "build failed"
    fi
    [[ -f $(silo_dll) && -f $(gateway_dll) ]] || die "$(silo_dll) or $(gateway_dll) is missing: build first (or drop --no-build)"

    mkdir -p "$state/logs" "$state/run" "$state/env" "$state/redis"
    rm -f "$state"/logs/*.log "$state"/run/*.pid "$state"/redis/*
    : >"$pids_file"
    ws_urls >"$state/urls"

    local began=$SECONDS
    deadline=$((SECONDS + timeout))
    # Whatever goes wrong from here on (a process that dies, the deadline), stop what was started.
    trap 'say "up failed: stopping what was started"; cmd_down >&2 || true' EXIT

    : >"$state/env/redis"
    start redis "$state/redis" "$state/env/redis" -- \
        redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --save '' --appendonly no --protected-mode yes
    echo "redis $redis_port" >"$state/run/redis.ready"
    wait_for_ready redis

    local name
    for ((k = 1; k <= silos; k++)); do
        name=$(silo_name "$k")
        silo_env "$k" >"$state/env/$name"
        start "$name" "$(dirname "$(silo_dll)")" "$state/env/$name" -- dotnet "$(silo_dll)"
        echo "http $(silo_http_port "$k")" >"$state/run/$name.ready"
    done
    for ((k = 1; k <= silos; k++)); do
        name=$(silo_name "$k")
        wait_for_ready "$name"
        if ((combined)); then say "$name ready on http://127.0.0.1:$(silo_http_port "$k")"; else say "$name ready"; fi
    done
    for ((k = 1; k <= gateways; k++)); do
        gateway_env "$k" >"$state/env/gateway$k"
        start "gateway$k" "$(dirname "$(gateway_dll)")" "$state/env/gateway$k" -- dotnet "$(gateway_dll)"
        echo "http $(gateway_http_port "$k")" >"$state/run/gateway$k.ready"
    done
    for ((k = 1; k <= gateways; k++)); do
        wait_for_ready "gateway$k"
        say "gateway$k ready on http://127.0.0.1:$(gateway_http_port "$k")"
    done
    trap - EXIT
    say "up: $silos $( ((combined)) && echo "co-hosted node(s)" || echo "silo(s)"), $gateways gateway(s), redis on 127.0.0.1:$redis_port, in $((SECONDS - began)) s"
    ws_urls
}

# stop_group PATTERN...: SIGTERM to every recorded process whose name matches one, then waits (15 s, then SIGKILL).
stop_group() {
    local name pid st waiting=() pattern matched
    while read -r name pid st; do
        matched=0
        for pattern in "$@"; do if [[ $name == $pattern ]]; then matched=1; fi; done
        ((matched)) || continue
        if alive "$name" "$pid" "$st"; then
            kill -TERM "$pid" 2>/dev/null || true
            waiting+=("$name $pid $st")
        else
            say "$name (pid $pid) was not running"
        fi
    done <"$pids_file"
    local entry waited=0 left
    while :; do
        left=0
        for entry in "${waiting[@]}"; do
            read -r name pid st <<<"$entry"
            alive "$name" "$pid" "$st" && left=$((left + 1))
        done
        ((left == 0 || waited >= 150)) && break
        sleep 0.1; waited=$((waited + 1))
    done
    for entry in "${waiting[@]}"; do
        read -r name pid st <<<"$entry"
        if alive "$name" "$pid" "$st"; then
            say "$name (pid $pid) did not stop within 15 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $name (pid $pid)"
    done
}

cmd_down() {
    [[ -s $pids_file ]] || { say "nothing recorded in $pids_file: nothing to stop"; return 0; }
    # Gateways first (they close their sockets with 1012 while the silos are up), then the co-hosted nodes and silos
    # together (each node drains its own sockets while the others' silos are still up), then redis.
    stop_group 'gateway*'
    stop_group 'node*' 'silo*'
    stop_group 'redis'
    rm -f "$pids_file" "$state"/run/*.pid
}

cmd_status() {
    [[ -s $pids_file ]] || { echo "down (nothing recorded in $pids_file)"; return 0; }
    local name pid st running=0 total=0
    while read -r name pid st; do
        total=$((total + 1))
        if alive "$name" "$pid" "$st"; then echo "$name pid $pid running"; running=$((running + 1)); else echo "$name pid $pid gone"; fi
    done <"$pids_file"
    echo "$running of $total running"
    [[ -f $state/urls ]] && cat "$state/urls"
    ((running == total))
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    down) shift; cmd_down ;;
    status) shift; cmd_status ;;
    kill) shift; cmd_kill "$@" ;;
    restart) shift; cmd_restart "$@" ;;
    env) shift; cmd_env "$@" ;;
    *) usage ;;
esac

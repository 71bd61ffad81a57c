# Shared by the bench scripts (sourced, not run): messages, free TCP ports, and the cleanup of what a script started.
# Set before sourcing: bench_name (the prefix of messages). The cleanup reads the caller's $repo, $work, $keep and
# $cluster_started (1 once scripts/cluster.sh up was called).

say() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() { say "$*"; exit 2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_ports COUNT -> $port: the first of COUNT consecutive ports nobody listens on, from a random start, never one
# handed out before (a global, not a subshell's output, so the record of ports handed out sticks). Drawn from
# 20000-31999, below Linux's ephemeral range (32768-60999): a port there may be held by an outgoing connection, which
# the probe (a connect) cannot see, and binding it then fails (seen while load clients held thousands of sockets).
taken=" "
free_ports() {
    local count=$1 tries base k ok
    for ((tries = 0; tries < 200; tries++)); do
        base=$((20000 + RANDOM % 12000))
        ok=1
        for ((k = 0; k < count; k++)); do
            if port_in_use $((base + k)) || [[ $taken == *" $((base + k)) "* ]]; then ok=0; break; fi
        done
        if ((ok)); then
            for ((k = 0; k < count; k++)); do taken+="$((base + k)) "; done
            port=$base
            return 0
        fi
    done
    die "no free ports found"
}

# Stops the process cluster if this script started one, then removes the work directory (or says where it was kept).
stop_cluster_and_work() {
    if ((cluster_started)); then
        say "stopping the cluster"
        timeout 120 "$repo/scripts/cluster.sh" down >&2
    fi
    if ((keep)); then say "kept $work"; else rm -rf "$work"; fi
}

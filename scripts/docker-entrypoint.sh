#!/bin/sh
# Container entry point: runs the gateway-only node (Relay.Gateway) when Cluster__Role is Gateway or the first
# argument is "gateway", else Relay.Silo (single process by default; Cluster__Role=Silo for a silo-only node;
# the argument "silo" selects it explicitly). Remaining arguments go to the program (e.g. --Relay:StaleTimeout=...).
set -e
app=Relay.Silo
case "${1:-}" in
    gateway) app=Relay.Gateway; shift ;;
    silo) shift ;;
    *)
        case "${Cluster__Role:-}" in
            [Gg]ateway) app=Relay.Gateway ;;
        esac
        ;;
esac
exec dotnet "/app/$app.dll" "$@"

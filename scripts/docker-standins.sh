#!/usr/bin/env bash
# Makes `docker compose up --build` of docker-compose.yml work on a Docker engine that cannot pull from any
# registry, such as Debian 12's docker.io on a machine without internet. A user with registry access never needs
# this script: Docker pulls the real images. It does two things, each only when missing, and is quick once done:
#
# 1. Compose v2: Debian 12 ships only Compose v1 (1.29), which rejects the file's top-level `name:`. When
#    `docker compose` is missing, Compose v2 and buildx are taken from Debian trixie's docker-compose and
#    docker-buildx packages (apt-get download; nothing is installed) and put in ${DOCKER_CONFIG:-~/.docker}/cli-plugins.
# 2. Stand-ins under the image names the Dockerfile and compose file use, built from a debootstrapped Debian 12
#    (relay-standin/debian:bookworm), Debian's packages and this machine's .NET (Dockerfiles in scripts/standins/):
#      redis:7.0                              Debian's redis-server 7.0
#      mcr.microsoft.com/dotnet/aspnet:10.0   this machine's ASP.NET Core runtime (APP_UID 1654 and its user)
#      mcr.microsoft.com/dotnet/sdk:10.0      this machine's .NET SDK and local CA certificates
#    Each carries the label relay.standin: `docker image ls --filter label=relay.standin` lists them.
#
# Needs a running Docker engine, apt and (for the stand-ins) root. Variables [defaults]:
#   STANDIN_WORK [/var/tmp/relay-standins]  scratch folder (rootfs, build contexts, downloaded packages)
#   DEBIAN_MIRROR [the first Debian archive URI in /etc/apt/sources.list*]
#   DOTNET_HOME [the folder of the dotnet on PATH]   CA_DIR [/usr/local/share/ca-certificates]
#   REBUILD_STANDINS=1   build the stand-ins again even when present
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${STANDIN_WORK:-/var/tmp/relay-standins}
ca_dir=${CA_DIR:-/usr/local/share/ca-certificates}
rebuild=${REBUILD_STANDINS:-0}
base_image=relay-standin/debian:bookworm
sdk_image=mcr.microsoft.com/dotnet/sdk:10.0
aspnet_image=mcr.microsoft.com/dotnet/aspnet:10.0
redis_image=redis:7.0

say() { printf '[docker-standins %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "$*"; exit 1; }

debian_mirror() {
    if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n 1 || true)
    [[ -n $uri ]] || die "no Debian archive URI in /etc/apt/sources.list*: set DEBIAN_MIRROR"
    echo "$uri"
}

apt_install() {
    ((EUID == 0)) || die "$* is missing and installing it needs root: apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq "$@" || { apt-get update -qq && apt-get install -y -qq "$@"; }; } >&2 || die "could not install $*"
}

ensure_compose_v2() {
    if docker compose version >/dev/null 2>&1; then
        say "$(docker compose version)"
        return
    fi
    local plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins suite=trixie
    local apt=$work/apt-$suite
    say "docker compose is missing: Compose v2 and buildx from Debian $suite's packages into $plugins"
    rm -rf "$apt"
    mkdir -p "$apt/lists/partial" "$apt/debs" "$plugins"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $suite main" >"$apt/sources.list"
    # A private package list for the suite: the machine's own apt configuration is neither read nor changed.
    local options=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$apt/lists")
    apt-get -qq "${options[@]}" update
    (cd "$apt/debs" && apt-get -qq "${options[@]}" download "docker-compose/$suite" "docker-buildx/$suite" 2>/dev/null)
    local deb
    for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$apt/root"; done
    install -m 0755 "$apt"/root/usr/libexec/docker/cli-plugins/docker-{compose,buildx} "$plugins/"
    rm -rf "$apt"
    docker compose version >/dev/null 2>&1 || die "docker compose still fails: $(docker compose version 2>&1 | head -n 3)"
    say "$(docker compose version); $(docker buildx version)"
}

present() { [[ $rebuild != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

build() { DOCKER_BUILDKIT=1 docker build --quiet "$@" >/dev/null; }

newest() { ls "$dotnet_home/$1" | sort -V | tail -n 1; }

ensure_base() {
    present "$base_image" && return
    ((EUID == 0)) || die "debootstrap needs root"
    command -v debootstrap >/dev/null || apt_install debootstrap
    local mirror rootfs=$work/rootfs
    mirror=$(debian_mirror)
    say "$base_image: debootstrap --variant=minbase bookworm from $mirror"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
    cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
    tar -C "$rootfs" --numeric-owner -c . | docker import -c 'CMD ["bash"]' - "$base_image" >/dev/null
    rm -rf "$rootfs"
}

ensure_aspnet() {
    present "$aspnet_image" && return
    local context=$work/aspnet version
    version=$(newest shared/Microsoft.AspNetCore.App)
    say "$aspnet_image: ASP.NET Core $version from $dotnet_home"
    rm -rf "$context"
    mkdir -p "$context/dotnet/shared"
    cp "$here/standins/aspnet/Dockerfile" "$context/"
    cp -a "$dotnet_home/dotnet" "$dotnet_home/host" "$dotnet_home"/*.txt "$context/dotnet/"
    cp -a "$dotnet_home/shared/Microsoft.NETCore.App" "$dotnet_home/shared/Microsoft.AspNetCore.App" "$context/dotnet/shared/"
    build --build-arg BASE="$base_image" --build-arg DOTNET_VERSION="$version" -t "$aspnet_image" "$context"
    rm -rf "$context"
}

ensure_sdk() {
    present "$sdk_image" && return
    local context=$work/sdk version
    version=$(newest sdk)
    say "$sdk_image: .NET SDK $version from $dotnet_home"
    rm -rf "$context"
    mkdir -p "$context/ca"
    cp "$here/standins/sdk/Dockerfile" "$context/"
    cp -a "$dotnet_home" "$context/dotnet"
    if [[ -d $ca_dir ]]; then cp -a "$ca_dir"/. "$context/ca/"; fi
    build --build-arg ASPNET="$aspnet_image" --build-arg SDK_VERSION="$version" \
        --build-arg NUGET_CERT_REVOCATION_MODE="${NUGET_CERT_REVOCATION_MODE:-online}" -t "$sdk_image" "$context"
    rm -rf "$context"
}

ensure_redis() {
    present "$redis_image" && return
    say "$redis_image: Debian's redis-server"
    build --build-arg BASE="$base_image" -t "$redis_image" "$here/standins/redis"
}

command -v docker >/dev/null || die "docker is missing (Debian: apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers: start dockerd"
mkdir -p "$work"
started=$SECONDS
ensure_compose_v2
if ! present "$redis_image" || ! present "$aspnet_image" || ! present "$sdk_image"; then
    dotnet_home=${DOTNET_HOME:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
    ensure_base
    ensure_aspnet
    ensure_sdk
    ensure_redis
fi
say "ready in $((SECONDS - started)) s: $redis_image $aspnet_image $sdk_image"

# The relay in one image for every role: Relay.Silo (single process by default, or Cluster__Role=Silo) and
# Relay.Gateway (Cluster__Role=Gateway, or the argument "gateway"). Builds for linux/amd64 and linux/arm64:
#   docker buildx build --platform linux/amd64,linux/arm64 -t relay .
# The SDK stage runs on the build machine's platform and cross-publishes (framework-dependent, no native code
# of ours), so no emulation is needed.
# No `# syntax=` line: the Dockerfile frontend built into BuildKit (Docker 20.10 and later) handles everything
# here, and naming one makes the build fetch it from a registry first.
ARG DOTNET_VERSION=10.0

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
# Restore first, from the project files alone, so the package layer is cached across source changes.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/RuntimeTuning.props src/
COPY src/Relay.Protocol/Relay.Protocol.csproj src/Relay.Protocol/
COPY src/Relay.Grains/Relay.Grains.csproj src/Relay.Grains/
COPY src/Relay.Gateway/Relay.Gateway.csproj src/Relay.Gateway/
COPY src/Relay.Silo/Relay.Silo.csproj src/Relay.Silo/
RUN dotnet restore src/Relay.Silo/Relay.Silo.csproj -a "$TARGETARCH"
COPY src/ src/
# Relay.Silo references Relay.Gateway, so its publish folder holds both executables (each with its own
# .deps.json and .runtimeconfig.json) and the one appsettings.json.
RUN dotnet publish src/Relay.Silo/Relay.Silo.csproj -c Release -a "$TARGETARCH" --no-restore -p:UseAppHost=false -o /app

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
WORKDIR /app
COPY --from=build --chown=root:root /app ./
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/relay-entrypoint
ENV ASPNETCORE_URLS=http://0.0.0.0:8080
# HTTP and WebSockets; Orleans silo-to-silo and client (gateway) ports of silo nodes.
EXPOSE 8080 11111 30000
# The non-root user the .NET images define (uid 1654); the app files stay owned by root, read-only to it.
USER $APP_UID
ENTRYPOINT ["relay-entrypoint"]

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Connections;

namespace Relay.Gateway.Hosting;

/// <summary>
/// Readiness of a node: healthy once the host has started and until it begins to stop. Hosted services start in
/// order and the Orleans silo (or client) comes first, so "started" means the silo has joined the cluster or the
/// client has connected to it (and, with a gateway, Kestrel accepts sockets). A gateway that drains its sockets
/// (<see cref="DrainState"/>) is not ready either. A gateway that refuses upgrades because it runs behind
/// (<see cref="LagShedding"/>) is <c>Degraded</c>, still HTTP 200: it serves its sockets and answers the upgrades it
/// refuses itself, with <c>Retry-After</c>; unready, a load balancer would pull every node of a starved cluster at once
/// (and scripts that wait for readiness would wait out the storm).
/// </summary>
internal sealed class NodeReadyHealthCheck(IHostApplicationLifetime lifetime, IServiceProvider services) : IHealthCheck
{
    // Silo-only nodes have no gateway and so never drain sockets nor refuse them.
    private readonly DrainState? _drain = services.GetService<DrainState>();
    private readonly LagShedding? _lagging = services.GetService<LagShedding>();

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_drain?.IsDraining == true) return Task.FromResult(HealthCheckResult.Unhealthy("draining"));
        if (lifetime.ApplicationStopping.IsCancellationRequested) return Task.FromResult(HealthCheckResult.Unhealthy("stopping"));
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return Task.FromResult(HealthCheckResult.Unhealthy("starting"));
        return Task.FromResult(_lagging?.IsShedding == true
            ? HealthCheckResult.Degraded("lagging: refusing new WebSockets until this node catches up")
            : HealthCheckResult.Healthy("joined the cluster"));
    }
}

/// <summary>Logs, once the node has started, what it is and where it listens (operators read this first).</summary>
internal sealed partial class NodeStartupLog(
    RelayNode node,
    IHostApplicationLifetime lifetime,
    IOptions<RelayClusterOptions> cluster,
    ILogger<NodeStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var options = cluster.Value;
            var membership = options.UsesRedis ? "redis" : "localhost";
            if (node.Role == RelayRole.Gateway)
            {
                Log.GatewayReady(logger, options.ClusterId, options.ServiceId, membership);
            }
            else
            {
                Log.SiloReady(logger, node.Role, options.ClusterId, options.ServiceId, membership, options.SiloPort, options.GatewayPort);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1021, Level = LogLevel.Information,
            Message = "Relay node ready: role {Role}, cluster {ClusterId}/{ServiceId}, membership {Membership}, silo port {SiloPort}, gateway port {GatewayPort}")]
        public static partial void SiloReady(ILogger logger, RelayRole role, string clusterId, string serviceId, string membership, int siloPort, int gatewayPort);

        [LoggerMessage(EventId = 1022, Level = LogLevel.Information,
            Message = "Relay node ready: role Gateway, connected to cluster {ClusterId}/{ServiceId}, membership {Membership}")]
        public static partial void GatewayReady(ILogger logger, string clusterId, string serviceId, string membership);
    }
}

/// <summary>The role this process runs, as its executable decided.</summary>
public sealed record RelayNode(RelayRole Role);

public static class NodeHealthExtensions
{
    public const string HealthPath = "/healthz";

    /// <summary>Liveness: 200 while the process runs (no check).</summary>
    public const string LivePath = "/healthz/live";

    /// <summary>Readiness: the same checks as <see cref="HealthPath"/>.</summary>
    public const string ReadyPath = "/healthz/ready";

    private const string ReadyTag = "ready";

    /// <summary>Registers the readiness check behind <c>/healthz</c> (idempotent).</summary>
    public static IServiceCollection AddRelayReadiness(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(NodeReadyHealthCheck))) return services;
        services.AddSingleton<NodeReadyHealthCheck>();
        services.AddHealthChecks().AddCheck<NodeReadyHealthCheck>("cluster", tags: [ReadyTag]);
        return services;
    }

    /// <summary>What every node registers: its role, the readiness check, telemetry and the start-up log line.</summary>
    public static IServiceCollection AddRelayNode(this IServiceCollection services, RelayRole role, IConfiguration configuration)
    {
        services.AddRelayReadiness();
        services.AddRelayTelemetry(configuration);
        if (services.Any(d => d.ServiceType == typeof(RelayNode))) return services;
        services.AddSingleton(new RelayNode(role));
        services.AddHostedService<NodeStartupLog>();
        return services;
    }

    /// <summary>Maps <c>GET /healthz</c> and <c>/healthz/ready</c> (200 "Healthy" once the node has joined the
    /// cluster, 503 while it starts, drains or stops), <c>/healthz/live</c> (200 while the process runs) and the
    /// Prometheus scrape endpoint <c>/metrics</c>.</summary>
    public static IEndpointRouteBuilder MapRelayHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks(HealthPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false });
        endpoints.MapRelayMetrics();
        return endpoints;
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Endpoints;
using Relay.Gateway.Hosting;
using Relay.Grains;

namespace Relay.Silo.Hosting;

/// <summary>
/// Builds a silo node. By default (<c>Cluster:Role=Combined</c>) the single-process relay: an Orleans silo and the
/// WebSocket gateway in one ASP.NET Core host (the AgentCore shape). <c>Cluster:Role=Silo</c>: the silo alone,
/// answering only <c>/ping</c> and <c>/healthz</c> over HTTP. <c>Program</c> runs it; the tests start the very same
/// host on loopback. Gateway-only nodes are <c>Relay.Gateway</c>'s <see cref="GatewayHost"/>.
/// </summary>
public static class RelayHost
{
    /// <summary>Where the relay listens when nothing else is configured: loopback only, so a development
    /// machine does not expose it (containers set <c>ASPNETCORE_URLS=http://0.0.0.0:8080</c>).</summary>
    public const string DefaultUrl = RelayHostDefaults.DefaultUrl;

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseRelayDefaults();
        var cluster = RelayClusterConfiguration.Read(builder.Configuration);
        if (cluster.Role == RelayRole.Gateway)
        {
            throw new InvalidOperationException("Cluster:Role=Gateway is the gateway-only node: run Relay.Gateway for it (Relay.Silo runs Combined or Silo).");
        }
        // The silo first: hosted services start in registration order, and the gateway's need a running silo.
        // Activity propagation: spans of grain calls join the caller's trace, across silos and from gateways (whose
        // clients turn it on too). Without a listener it creates nothing.
        builder.UseOrleans(silo => silo.UseRelayCluster(builder.Configuration).AddRelayGrains(builder.Configuration).AddActivityPropagation());
        builder.Services.AddRelayClusterOptions(builder.Configuration);
        builder.Services.AddRelayNode(cluster.Role, builder.Configuration);
        // Without Redis this is the only silo, and its gateway shares its fate: no lease backstop to keep.
        if (cluster.Role == RelayRole.Combined && !cluster.UsesRedis) builder.Services.UseSingleProcessLiveness();
        if (cluster.Role == RelayRole.Combined) builder.Services.AddRelayGateway(builder.Configuration);
        // The silo's directory cache sized by the gateway's connection limit rather than Orleans' million entries.
        if (cluster.Role == RelayRole.Combined) builder.Services.AddSingleton<IConfigureOptions<GrainDirectoryOptions>, DirectoryCacheSize>();
        // With Redis, other nodes can outlive this one and must reap its peers if it dies, and it theirs.
        if (cluster.Role == RelayRole.Combined && cluster.UsesRedis) builder.Services.AddRelayNodeLossWatch(coHosted: true);
        configure?.Invoke(builder);

        var app = builder.Build();
        if (cluster.Role == RelayRole.Combined)
        {
            app.UseRelay();
        }
        else
        {
            app.MapPing();
            app.MapRelayHealth();
        }
        return app;
    }
}

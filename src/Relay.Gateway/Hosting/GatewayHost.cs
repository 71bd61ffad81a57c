using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Hosting;

/// <summary>
/// Builds the gateway-only node: an ASP.NET Core host holding WebSockets, with an Orleans client (not a silo) that
/// reaches the cluster's silos. Same configuration model as <c>Relay.Silo</c> ("Relay", "Cluster"); the role is
/// always <see cref="RelayRole.Gateway"/>. <c>Program</c> runs it; tests can start the very same host.
/// </summary>
public static class GatewayHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseRelayDefaults();
        var cluster = RelayClusterConfiguration.Read(builder.Configuration);

        // The client first: hosted services start in registration order, and the gateway's need a connected client.
        // Activity propagation: a span current at a grain call (a presence's) parents Orleans' span for the call, and
        // the silo's span for it joins the same trace. Without a listener it creates nothing.
        builder.UseOrleansClient(client => client.UseRelayCluster(cluster).AddActivityPropagation());
        builder.Services.AddRelayClusterOptions(builder.Configuration);
        builder.Services.AddRelayNode(RelayRole.Gateway, builder.Configuration);
        builder.Services.AddRelayGateway(builder.Configuration);
        builder.Services.AddRelayNodeLossWatch(coHosted: false);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseRelay();
        return app;
    }
}

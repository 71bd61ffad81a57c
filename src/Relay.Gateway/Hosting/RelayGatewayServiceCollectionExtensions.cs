using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Relay.Gateway.Authentication;
using Relay.Gateway.Cluster;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Dashboard;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Endpoints;
using Relay.Gateway.Routing;
using Relay.Grains;

namespace Relay.Gateway.Hosting;

/// <summary>Registers the WebSocket gateway. It needs an Orleans <c>IClusterClient</c>/<c>IGrainFactory</c>: the
/// co-hosted silo's, or an external client's.</summary>
public static class RelayGatewayServiceCollectionExtensions
{
    public static IServiceCollection AddRelayGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RelayOptions>().Bind(configuration.GetSection(RelayOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RelayOptions>, RelayOptionsValidator>();
        services.AddSingleton<IValidateOptions<RelayOptions>, DrainWindowValidator>();
        services.AddRelayLiveness(configuration);
        services.AddRelayAuthentication(configuration);

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<RelayMetrics>();
        services.AddSingleton<RelayGauges>();
        services.AddSingleton<GatewayIdentity>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionBudget>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectionBudget>());
        services.AddSingleton<ConnectionAdmission>();
        services.AddSingleton<ConnectRateLimiter>();
        services.AddSingleton<MeshQuota>();
        // The probe runs, and upgrades are refused, only while Relay:ShedWhenLaggingAbove is set (the default).
        services.AddSingleton<QueueDelayProbe>();
        services.AddSingleton<LagShedding>();
        services.AddHostedService(sp => sp.GetRequiredService<LagShedding>());
        // After Kestrel's own socket transport, so that Kestrel binds with this one.
        services.AddSingleton<IConnectionListenerFactory, SheddingSocketTransport>();
        services.AddSingleton<LinkLossReporter>();
        services.AddSingleton<GatewayLinks>();
        services.AddSingleton<IGatewayLinks>(sp => sp.GetRequiredService<GatewayLinks>());
        services.AddSingleton<LinkAcknowledger>();
        services.AddSingleton<MeshRegistry>();
        services.AddSingleton<TransitionGates>();
        services.AddSingleton<EchoTypes>();
        services.AddSingleton<PeerMembership>();
        services.AddSingleton<ErrorReplies>();
        services.AddSingleton<PresenceHandler>();
        services.AddSingleton<RemoteMeshUpdates>();
        services.AddSingleton<RelayWebSocketHandler>();
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, DirectHandshakeSetup>();
        services.AddSingleton<GatewayInbox>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayInbox>());
        services.AddHostedService<GatewayEventListener>();
        services.AddSingleton<DrainState>();
        services.AddHostedService<ConnectionDrainer>();
        // The sweeper's ticks measure the lag; peer membership credits it to silent connections.
        services.AddSingleton<SchedulingLag>();
        services.AddHostedService<ConnectionSweeper>();
        services.AddSingleton<LivenessReporter>();
        services.AddSingleton<ILivenessReports>(sp => sp.GetRequiredService<LivenessReporter>());
        services.AddHostedService(sp => sp.GetRequiredService<LivenessReporter>());
        services.AddHostedService<RosterRefresher>();
        services.AddRelayDashboard(configuration);
        services.AddRelayReadiness();
        services.AddRelayTelemetry(configuration);
        return services;
    }

    /// <summary>
    /// On a node of a multi-node cluster: watches for silo deaths and has the peer grains of members whose gateway may
    /// have died with them reap on their leases (<see cref="NodeLossWatcher"/>). A co-hosted node (silo and gateway in
    /// one process) reads its silo's membership and names the silo after this gateway, so that the other nodes know
    /// whose connections died with it; a gateway-only node polls the cluster's. Call after <see cref="AddRelayGateway"/>.
    /// </summary>
    public static IServiceCollection AddRelayNodeLossWatch(this IServiceCollection services, bool coHosted)
    {
        if (coHosted)
        {
            services.AddOptions<SiloOptions>().Configure<GatewayIdentity>((silo, gateway) => silo.SiloName = gateway.Id);
            services.AddSingleton<IClusterView, SiloClusterView>();
        }
        else
        {
            services.AddSingleton<IClusterView, PolledClusterView>();
        }
        services.AddHostedService<NodeLossWatcher>();
        return services;
    }

    /// <summary>The live dashboard (section <c>Relay:Dashboard</c>): built from what the gateway already keeps.</summary>
    public static IServiceCollection AddRelayDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DashboardOptions>().Bind(configuration.GetSection(DashboardOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>();
        services.AddSingleton<DashboardAccess>();
        services.AddSingleton<DisconnectLog>();
        services.AddSingleton<IMembershipListener>(sp => sp.GetRequiredService<DisconnectLog>());
        services.AddSingleton<MessageRates>();
        services.AddSingleton<ClusterNodes>();
        services.AddSingleton<DashboardViews>();
        services.AddSingleton<DashboardStreams>();
        services.AddSingleton<DashboardHosts>();
        services.AddSingleton<DashboardEvents>();
        services.AddHostedService<RateSampler>();
        return services;
    }

    /// <summary>JWT authentication of clients (section <c>Relay:Auth</c>; off unless a discovery URL is configured).
    /// Unknown keys in the section stop the relay at start-up: a misspelt rule must not be silently skipped.</summary>
    public static IServiceCollection AddRelayAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RelayAuthOptions>()
            .Bind(configuration.GetSection(RelayAuthOptions.SectionName), binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RelayAuthOptions>, RelayAuthOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<OidcMetadata>();
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<FirstFrameAuthenticator>();
        services.AddHostedService<AuthenticationStartup>();
        return services;
    }

    /// <summary>WebSockets middleware plus <see cref="RelayEndpoints.MapRelay"/>, <c>/healthz</c> (with
    /// <c>/live</c>, <c>/ready</c>) and <c>/metrics</c>.</summary>
    public static WebApplication UseRelay(this WebApplication app)
    {
        app.Services.GetRequiredService<RelayGauges>(); // its observable gauges exist from now on
        WriteCoalescingUpgrade.UseWriteCoalescingUpgrade(app);
        app.UseWebSockets();
        app.MapRelay();
        app.MapRelayHealth();
        return app;
    }
}

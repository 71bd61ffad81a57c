using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;
using Relay.Grains.Contracts;
using Relay.Silo.Hosting;
using Xunit;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// A two-silo in-process Orleans cluster configured exactly as the relay's silos are
/// (<see cref="RelaySiloBuilderExtensions.AddRelayGrains"/>), with short liveness timings, and a client that can
/// subscribe to gateway streams like a gateway does. Shared by every grain test class (one collection, so the
/// timing-sensitive tests run one at a time); tests keep apart by using their own mesh names and gateway ids.
/// </summary>
public sealed class GrainClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan StaleTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan ReapCheckInterval = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan LivenessReportInterval = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan ReminderPeriod = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan PeerIdGracePeriod = TimeSpan.FromSeconds(2);

    /// <summary>What the grain waits after a connection's last reported frame (LivenessOptions.LeaseDuration).</summary>
    public static TimeSpan Lease => StaleTimeout + LivenessReportInterval + LivenessReportInterval;

    /// <summary>Upper bound for anything the tests wait for; generous because the VM is noisy.</summary>
    public static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private InProcessTestCluster? _cluster;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("Cluster not deployed.");

    public IClusterClient Client => Cluster.Client;

    /// <summary>Every call into a peer or mesh grain, with the activation that served it.</summary>
    public GrainCallLog Calls { get; } = new();

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Relay:StaleTimeout"] = StaleTimeout.ToString("c"),
                ["Relay:ReapCheckInterval"] = ReapCheckInterval.ToString("c"),
                ["Relay:LivenessReportInterval"] = LivenessReportInterval.ToString("c"),
                ["Relay:ReminderPeriod"] = ReminderPeriod.ToString("c"),
                ["Relay:PeerIdGracePeriod"] = PeerIdGracePeriod.ToString("c"),
            })
            .Build();
        var calls = Calls;

        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddRelayGrains(configuration);
            // Fast failure detection, as the Orleans notes advise for multi-silo tests.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
            });
            silo.AddIncomingGrainCallFilter(calls);
        });
        ConfigureClientAndLogs(builder);
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }

    /// <summary>What every grain test cluster shares: a client that can subscribe to gateway streams, and silo logs
    /// in the file named by RELAY_GRAIN_TEST_LOG when it is set (for diagnosis).</summary>
    internal static void ConfigureClientAndLogs(InProcessTestClusterBuilder builder)
    {
        if (Environment.GetEnvironmentVariable("RELAY_GRAIN_TEST_LOG") is { } logPath)
        {
            builder.ConfigureSiloHost((_, host) =>
            {
                host.Logging.AddProvider(new FileLoggerProvider(logPath));
                host.Logging.SetMinimumLevel(LogLevel.Debug);
            });
        }
        builder.ConfigureClient(client => client.AddMemoryStreams(GatewayStreams.Provider));
    }

    public IPeerGrain Peer(string mesh, string peerId) => Client.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, peerId));

    public IMeshGrain Mesh(string mesh) => Client.GetGrain<IMeshGrain>(mesh);

    public IGatewayGrain Gateway(string gatewayId) => Client.GetGrain<IGatewayGrain>(gatewayId);

    /// <summary>The activation currently serving <paramref name="grain"/>, if any silo has one.</summary>
    public ActivationId? CurrentActivation(IAddressable grain) =>
        Cluster.TryGetGrainContext(grain.GetGrainId(), out var context) ? context.ActivationId : null;

    /// <summary>The grain's reminders as the cluster's reminder table holds them.</summary>
    public async Task<string[]> RemindersOf(IAddressable grain)
    {
        var table = Cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        var rows = await table.ReadRows(grain.GetGrainId());
        return [.. rows.Reminders.Select(r => r.ReminderName)];
    }

    /// <summary>A mesh name no other test uses.</summary>
    public static string NewMesh(string hint) => $"{hint}-{Guid.NewGuid():N}";

    /// <summary>A gateway id no other test uses.</summary>
    public static string NewGateway(string hint) => $"{hint}-{Guid.NewGuid():N}";
}

[CollectionDefinition(Name)]
public sealed class GrainClusterDefinition : ICollectionFixture<GrainClusterFixture>
{
    public const string Name = "Relay grain cluster";
}

using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>One 2-silo, 2-gateway process cluster shared by the behaviour tests (each uses its own mesh).</summary>
public sealed class SharedCluster : IAsyncLifetime
{
    public ProcessCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await ProcessCluster.StartAsync(2, 2,
        "Relay__RateLimitPerSecond=100000", "Relay__RateLimitBurst=100000", "Relay__ByteRateLimitPerSecond=1000000000", "Relay__ByteRateLimitBurst=1000000000");

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ClusterGroup : ICollectionFixture<SharedCluster>
{
    public const string Name = "process cluster";
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Relay.Silo.Hosting;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>A co-hosted node's grain-directory cache is sized by its connection limit, not Orleans' million entries
/// (its dictionary is allocated for the whole capacity, and every grain touches a random page of it).</summary>
public class DirectoryCacheSizeTests
{
    [Theory]
    [InlineData(18_976, 75_904)] // this machine's derived limit (20,000 open files)
    [InlineData(100, DirectoryCacheSize.MinimumEntries)]
    [InlineData(1_047_552, GrainDirectoryOptions.DEFAULT_CACHE_SIZE)] // a production open-file limit keeps Orleans' default
    public void Four_entries_per_connection_between_the_floor_and_Orleans_default(int maxConnections, int expected) =>
        Assert.Equal(expected, DirectoryCacheSize.For(maxConnections));

    [Fact]
    public async Task A_combined_node_sizes_its_cache_by_its_connection_limit()
    {
        await using var app = RelayHost.Build(["--Relay:MaxConnections=5000"]);
        Assert.Equal(20_000, app.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize);
    }

    [Fact]
    public async Task A_silo_only_node_keeps_Orleans_default()
    {
        await using var app = RelayHost.Build(["--Cluster:Role=Silo", "--Relay:MaxConnections=5000"]);
        Assert.Equal(GrainDirectoryOptions.DEFAULT_CACHE_SIZE, app.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize);
    }
}

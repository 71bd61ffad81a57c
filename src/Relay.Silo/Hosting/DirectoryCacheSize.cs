using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Relay.Gateway.Connections;

namespace Relay.Silo.Hosting;

/// <summary>
/// Sizes a co-hosted node's grain-directory cache by the connections the node may hold, instead of Orleans' default of
/// 1,000,000 entries.
/// </summary>
/// <remarks>
/// <para>Why: the cache is an LRU whose dictionary is allocated for its whole capacity when the silo starts, and the
/// silo keeps two of them (1.16 M buckets of 8 bytes each, 9.3 MB apiece). An idle node does not touch those pages, but
/// every grain it activates or calls lands in a random bucket, so at 18,000 peers (19,800 grains) nearly every page of
/// both arrays is resident: about 1 KiB of RSS per peer for a cache a hundred times larger than what it holds
/// (bench/results/2026-12-07-scale-memory-directory.md).</para>
/// <para>What a node's cache holds: the grains it calls or hosts. Per connection, its peer grain and (shared by the
/// mesh's members) its mesh grain; on a cluster node also the peer grains its mesh grains call and the mesh grains of
/// the peer grains it hosts, each about one per connection. <see cref="EntriesPerConnection"/> covers that with room
/// to spare; an entry evicted anyway costs one directory look-up on its next call, never a wrong answer. The size is
/// never above Orleans' default (a node with a production open-file limit keeps it) nor below
/// <see cref="MinimumEntries"/>.</para>
/// </remarks>
internal sealed class DirectoryCacheSize(ConnectionBudget budget) : IConfigureOptions<GrainDirectoryOptions>
{
    /// <summary>Cache entries per connection the node may hold.</summary>
    public const int EntriesPerConnection = 4;

    /// <summary>Fewest entries, for nodes with a small connection limit (tests, small containers): 80 KB of buckets.</summary>
    public const int MinimumEntries = 10_000;

    public void Configure(GrainDirectoryOptions options) => options.CacheSize = For(budget.MaxConnections);

    /// <summary>The cache size of a node that holds at most <paramref name="maxConnections"/> WebSockets.</summary>
    public static int For(int maxConnections) =>
        (int)Math.Clamp((long)maxConnections * EntriesPerConnection, MinimumEntries, GrainDirectoryOptions.DEFAULT_CACHE_SIZE);
}

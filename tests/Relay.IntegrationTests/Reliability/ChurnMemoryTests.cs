using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Relay.Grains.Contracts;
using Relay.Grains.Peers;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue 17, item 1: sockets looping connect, presence with 60,000 characters of metadata under a unique id, close.
/// Peer grains kept every id's state (metadata included) in grain storage and in memory for the process's life, and
/// <c>POST /invocations?mesh=&lt;random&gt;</c> left a mesh grain per name. After the churn the relay (Kestrel and its
/// co-hosted silo, as <c>Program</c> builds them) must hold what it held before: no peer or mesh activation, no stored
/// state of any churned id, and, after a full GC, a managed heap and an RSS within 10 % of their sizes before.
/// </summary>
[Collection(MemoryMeasuringGroup.Name)]
public sealed class ChurnMemoryTests(ITestOutputHelper output) : EndToEndTest
{
    private const int Loops = 8;
    private const int WarmUpIds = 200;
    private const int ChurnedIds = 800;
    private const int UnknownMeshReads = 2_000;
    private static readonly string Pad = new('x', 60_000);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Churned_ids_and_unknown_meshes_leave_no_grain_no_stored_state_and_no_heap_behind()
    {
        await StartRelayAsync();
        var grains = Relay.Services.GetRequiredService<IGrainFactory>();

        // The same churn once before measuring, so that pools, caches and JIT are what they will be after.
        await ChurnAsync(WarmUpIds, "warm");
        await ReadUnknownMeshesAsync(UnknownMeshReads / 4);
        await SettledAsync(grains);
        var before = MemoryAfterFullGc();

        var ids = await ChurnAsync(ChurnedIds, "g");
        await ReadUnknownMeshesAsync(UnknownMeshReads);
        var (settledIn, active) = await SettledAsync(grains);
        var after = MemoryAfterFullGc();
        output.WriteLine($"after a full GC: managed heap {before.Heap / 1048576.0:F1} MiB before, {after.Heap / 1048576.0:F1} MiB after; " +
            $"RSS {before.Rss / 1048576.0:F1} MiB before, {after.Rss / 1048576.0:F1} MiB after " +
            $"{ChurnedIds} ids with {Pad.Length:N0} characters of metadata and {UnknownMeshReads} unknown meshes read; " +
            $"grains {(active == "" ? "gone" : "still active: " + active)} {settledIn.TotalSeconds:F1} s after the last close");
        Assert.True(active == "", $"peer or mesh grains still active after the churn: {active}");

        var storage = Relay.Services.GetRequiredKeyedService<IGrainStorage>(GatewayStreams.Storage);
        foreach (var id in ids)
        {
            var state = new GrainState<PeerState>();
            await storage.ReadStateAsync("peer", grains.GetGrain<IPeerGrain>(GrainKeys.Peer(Mesh, id)).GetGrainId(), state);
            Assert.False(state.RecordExists, $"peer {id} still has its state in grain storage");
        }
        Assert.True(after.Heap <= before.Heap * 1.10, $"the managed heap grew from {before.Heap:N0} to {after.Heap:N0} bytes");
        Assert.True(after.Rss <= before.Rss * 1.10, $"RSS grew from {before.Rss:N0} to {after.Rss:N0} bytes");
    }

    /// <summary>Loops connect, presence (registered: its answer arrived), close; returns the ids used.</summary>
    private async Task<string[]> ChurnAsync(int count, string prefix)
    {
        var ids = Enumerable.Range(0, count).Select(_ => $"{prefix}-{Guid.NewGuid()}").ToArray();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Loops).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < ids.Length)
            {
                await using var peer = await TestPeer.ConnectAsync(MeshUri(), ids[i]);
                Assert.Null(await peer.RegisterAsAsync(ids[i], new { pad = Pad }));
                await peer.CloseAsync();
            }
        })));
        return ids;
    }

    private async Task ReadUnknownMeshesAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await Relay.Http.PostAsync($"/invocations?mesh=u-{Guid.NewGuid():N}", content: null);
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Waits (bounded) until no peer or mesh grain is active: every churned id went offline and its mesh,
    /// with its last socket closed, is empty. Returns how long that took, and what is still active ("" for nothing).</summary>
    private static async Task<(TimeSpan Elapsed, string Active)> SettledAsync(IGrainFactory grains)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var statistics = await management.GetSimpleGrainStatistics();
            var active = statistics.Where(s => s.GrainType.Contains("PeerGrain", StringComparison.Ordinal) || s.GrainType.Contains("MeshGrain", StringComparison.Ordinal))
                .Sum(s => s.ActivationCount);
            if (active == 0) return (watch.Elapsed, "");
            if (watch.Elapsed > SettleTimeout)
            {
                return (watch.Elapsed, string.Join(", ", statistics.Where(s => s.ActivationCount > 0).Select(s => $"{s.GrainType}={s.ActivationCount}")));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>The managed heap and the process's RSS after a full, compacting collection in the aggressive mode,
    /// which also gives the memory freed back to the operating system (a plain full GC keeps free regions committed, so
    /// RSS would measure the GC's reserve, not what the churn left).</summary>
    private static (long Heap, long Rss) MemoryAfterFullGc()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64);
    }
}

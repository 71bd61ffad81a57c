using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Issue #14's departure on the 2-gateway process cluster: many peers on both gateways close at once, while the peer
/// grains clear their state, leave the mesh roster and unregister their reminders together. Every watcher, on either
/// gateway, hears each leaver's offline exactly once, none is lost, and no peer that stayed is announced offline.
/// </summary>
[Collection(ClusterGroup.Name)]
[Trait("Category", "Cluster")]
public sealed class MassDepartureTests(SharedCluster shared) : IAsyncLifetime
{
    private const int LeaversPerGateway = 20;
    private const int StayersPerGateway = 2;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly List<TestPeer> _peers = [];
    private readonly string _mesh = "m" + Guid.NewGuid().ToString("N")[..12];

    private async Task<TestPeer> JoinAsync(int gateway, string prefix)
    {
        var peer = await TestPeer.ConnectAsync(new Uri(shared.Cluster.Gateways[gateway], $"?mesh={_mesh}"), TestPeer.NewId(prefix));
        lock (_peers) _peers.Add(peer);
        // The shared cluster reaps after 30 s of silence; a loaded machine may take longer than that for the test.
        peer.StartKeepAlive(TimeSpan.FromSeconds(5));
        await peer.RegisterAsync(timeout: Timeout);
        return peer;
    }

    [Fact]
    public async Task Closing_many_peers_at_once_on_two_gateways_announces_each_offline_once()
    {
        var stayers = new List<TestPeer>();
        for (var g = 0; g < 2; g++)
        {
            for (var i = 0; i < StayersPerGateway; i++) stayers.Add(await JoinAsync(g, $"stay{g}"));
        }
        var leavers = (await Task.WhenAll(Enumerable.Range(0, 2 * LeaversPerGateway).Select(i => JoinAsync(i % 2, $"leave{i % 2}")))).ToList();
        foreach (var stayer in stayers)
        {
            foreach (var peer in leavers.Concat(stayers).Where(p => p != stayer))
            {
                await stayer.WaitForAsync(f => Frame.IsPresenceOf(f, peer.Id), Timeout, $"presence of {peer.Id}");
            }
        }

        await Task.WhenAll(leavers.Select(l => l.CloseAsync()));

        foreach (var stayer in stayers)
        {
            foreach (var leaver in leavers) await stayer.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id), Timeout, $"offline of {leaver.Id}");
        }
        // A mark from a stayer on each gateway: whatever either gateway announced has reached every stayer by then.
        await stayers[0].MarkAsync([.. stayers.Skip(1)]);
        await stayers[^1].MarkAsync([.. stayers.SkipLast(1)]);
        foreach (var stayer in stayers)
        {
            foreach (var leaver in leavers) Assert.Equal(1, stayer.Count(f => Frame.IsOfflineOf(f, leaver.Id)));
            foreach (var other in stayers) Assert.Equal(0, stayer.Count(f => Frame.IsOfflineOf(f, other.Id)));
            Assert.DoesNotContain(stayer.Received, Frame.IsRelayError);
        }

        // The roster (the mesh grain's) and both gateways' views hold the stayers only.
        var everyone = stayers.Select(s => s.Id).Order(StringComparer.Ordinal).ToArray();
        using var http = ClusterHttp.Client();
        foreach (var gateway in shared.Cluster.Gateways)
        {
            var peers = await ClusterHttp.WaitForPeersAsync(http, new Uri($"http://{gateway.Authority}/"), _mesh, everyone, Timeout);
            ConnectionStorm.AssertSameIds(everyone, peers, $"/invocations of {gateway.Authority}");
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var peer in _peers) await peer.DisposeAsync();
    }
}

using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Two co-hosted nodes (<c>scripts/cluster.sh up --silos 2 --gateways 0 --combined</c>: each process a silo and a
/// gateway, the topology whose cross-node frames go silo to silo): peers on different nodes see each other, directs
/// and broadcasts cross in order with nothing lost, and a peer that leaves goes offline once on the other node.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class CoHostedNodesTests
{
    private const int Frames = 300;

    [Fact]
    public async Task Peers_on_two_co_hosted_nodes_exchange_directs_and_broadcasts_in_order_and_see_offline_once()
    {
        await using var cluster = await ProcessCluster.StartCoHostedAsync(2, "Relay__RateLimitPerSecond=100000", "Relay__RateLimitBurst=100000", "Relay__ByteRateLimitPerSecond=1000000000", "Relay__ByteRateLimitBurst=1000000000");
        Assert.Equal(2, cluster.Gateways.Length);
        var mesh = "m" + Guid.NewGuid().ToString("N")[..12];
        await using var a = await TestPeer.ConnectAsync(new Uri(cluster.Gateways[0], $"?mesh={mesh}"), TestPeer.NewId("a"));
        await a.RegisterAsync();
        await using var b = await TestPeer.ConnectAsync(new Uri(cluster.Gateways[1], $"?mesh={mesh}"), TestPeer.NewId("b"));
        var snapshot = await b.RegisterAsync();
        Assert.Contains(snapshot, f => Frame.From(f) == a.Id);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        for (var i = 0; i < Frames; i++)
        {
            await a.SendAsync(i % 2 == 0
                ? $$$"""{"type":"direct","to":"{{{b.Id}}}","data":{"seq":{{{i}}}}}"""
                : $$$"""{"type":"broadcast","data":{"seq":{{{i}}}}}""");
        }

        var got = await b.WaitForCountAsync(f => Frame.Sender(f) == a.Id && Frame.Seq(f) is not null, Frames, TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), got.Select(f => Frame.Seq(f)!.Value));

        await b.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, b.Id), TimeSpan.FromSeconds(20));
        await a.SyncAsync();
        Assert.Single(a.Received, f => Frame.IsOfflineOf(f, b.Id));
        Assert.DoesNotContain(a.Received, Frame.IsRelayError);
    }
}

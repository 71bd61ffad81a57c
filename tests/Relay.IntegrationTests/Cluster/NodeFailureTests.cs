using System.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Node failures on a real process cluster (2 silos, 2 gateway-only nodes, Redis), each test with its own
/// cluster because it kills a node with SIGKILL. Liveness runs at the real defaults (30 s stale timeout). When the
/// peers of a dead node go offline is <see cref="NodeDeathOfflineTests"/>.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class NodeFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_one_of_two_silos_keeps_peers_online_and_reports_every_frame_it_could_not_deliver()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, 2);
        var mesh = "?mesh=kill-silo";
        Uri On(int gateway) => new(cluster.Gateways[gateway], mesh);

        await using var a = await LivePeer.ConnectAsync(On(0), "a");
        await using var b = await LivePeer.ConnectAsync(On(1), "b");
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id)); // each gateway knows the other's peer
        using var traffic = new DirectTraffic(a, b);

        cluster.Kill("silo2");
        var killed = Stopwatch.StartNew();

        // Reachable again within a bounded time: a marker round trip both ways.
        var recovered = await Eventually.SucceedsAsync(async () =>
        {
            await a.DirectMarkAsync(b);
            await b.DirectMarkAsync(a);
        }, TimeSpan.FromSeconds(60));
        output.WriteLine($"cross-node round trip works again {killed.Elapsed.TotalSeconds:F1} s after the kill (attempts: {recovered})");

        // No false offline for a whole stale period after the kill.
        await using var late = await LivePeer.ConnectAsync(On(1), "late");
        while (killed.Elapsed < TimeSpan.FromSeconds(35))
        {
            await a.DirectMarkAsync(b);
            // Pacing, not synchronising: back-to-back round trips on top of the traffic would exceed the default
            // rate limit (200 frames/s), and frames refused as rate_limited are not what this test is about.
            await Task.Delay(50);
        }
        Assert.DoesNotContain(a.Received, f => Frame.IsOfflineOf(f, b.Id));
        Assert.DoesNotContain(b.Received, f => Frame.IsOfflineOf(f, a.Id));

        // Whatever did not arrive was reported to the sender or the receiver.
        await traffic.StopAsync();
        var lost = traffic.Lost;
        output.WriteLine($"sent {traffic.Sent}, lost {lost} ({traffic.Missing()}); relay errors: " + string.Join(", ",
            a.Received.Concat(b.Received).Where(Frame.IsRelayError).Select(f => Frame.DataStr(f, "code"))));
        if (lost > 0)
        {
            Assert.Contains(a.Received.Concat(b.Received), f => Frame.IsError(f, "undelivered") || Frame.IsError(f, "lost_in_transit"));
        }
        traffic.AssertInOrderOnce();

        // Reaping still works after the silo loss: a peer that leaves goes offline for the others.
        await late.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, late.Id), TimeSpan.FromSeconds(30));
    }
}

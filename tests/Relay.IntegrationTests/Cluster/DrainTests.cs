using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Graceful drain (issue #7) on a real process cluster (2 silos, 2 gateway-only nodes, Redis): SIGTERM to one
/// gateway. Its clients are closed with 1012, spread over the drain window; those that reconnect to the other
/// gateway with the same peer id (as a browser that reconnects would) are taken over without an offline, and one
/// that does not come back goes offline once, when its lease runs out.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class DrainTests(ITestOutputHelper output)
{
    private const int Movers = 6;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(6);

    // Short liveness so that the handed-over leases run out within seconds: a lease is 5 s + 2 × 0.5 s after the last
    // frame a gateway reported; peers keep alive with a presence every second.
    private static readonly string[] Settings =
    [
        "Relay__DrainWindow=00:00:06",
        "Relay__StaleTimeout=00:00:05",
        "Relay__LivenessReportInterval=00:00:00.500",
        "Relay__ReapCheckInterval=00:00:00.200",
    ];

    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Clients_of_a_draining_gateway_reconnect_to_the_other_without_an_offline_and_the_closes_are_spread()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, 2, Settings);
        const string Mesh = "?mesh=drain";
        Uri On(int gateway) => new(cluster.Gateways[gateway], Mesh);
        var survivorHttp = new Uri($"http://{cluster.Gateways[1].Authority}/");

        var peers = new List<TestPeer>();
        try
        {
            var observer = await Live(On(1), TestPeer.NewId("observer"), peers);
            var movers = new List<TestPeer>();
            for (var i = 0; i < Movers; i++) movers.Add(await Live(On(0), TestPeer.NewId("mover"), peers));
            // Connected last, so closed last (oldest first): it does not come back.
            var leaver = await Live(On(0), TestPeer.NewId("leaver"), peers);
            foreach (var peer in movers.Append(leaver)) await observer.WaitForAsync(f => Frame.IsPresenceOf(f, peer.Id));
            using var http = ClusterHttp.Client();
            var expiredBefore = await LeasesExpiredAsync(http, survivorHttp);

            var clock = Stopwatch.StartNew();
            var moves = movers.Select(async mover =>
            {
                var status = await mover.WaitForCloseAsync(TimeSpan.FromSeconds(40));
                var closedAt = clock.Elapsed;
                var again = await Live(On(1), mover.Id, peers); // the same peer id, on the other gateway
                return (mover.Id, Status: status, ClosedAt: closedAt, Again: again);
            }).ToArray();
            var left = Task.Run(async () => (Status: await leaver.WaitForCloseAsync(TimeSpan.FromSeconds(40)), ClosedAt: clock.Elapsed));
            cluster.Terminate("gateway1");

            var moved = await Task.WhenAll(moves);
            var leaverClose = await left;
            var closeTimes = moved.Select(m => m.ClosedAt).Append(leaverClose.ClosedAt).Order().ToArray();
            output.WriteLine("closes after SIGTERM (s): " + string.Join(", ", closeTimes.Select(t => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture))));

            Assert.All(moved, m => Assert.Equal((WebSocketCloseStatus)1012, m.Status));
            Assert.Equal((WebSocketCloseStatus)1012, leaverClose.Status);
            // Seven connections over 6 s are due 0.86 s apart (0 to 5.1 s after the drain began).
            var spread = closeTimes[^1] - closeTimes[0];
            Assert.True(spread >= Window / 2, $"the closes were spread over {spread.TotalSeconds:F1} s only");
            Assert.True(spread <= Window + TimeSpan.FromSeconds(5), $"the closes took {spread.TotalSeconds:F1} s");

            // Taken over: nobody heard an offline for a mover at its close (one would have been announced then).
            await moved[0].Again.MarkAsync(observer);
            foreach (var m in moved) Assert.DoesNotContain(observer.Received, f => Frame.IsOfflineOf(f, m.Id));

            // The leases of the drained connections run out on their peer grains; the surviving gateway applies
            // each reap (and queues for its clients whatever the reap announced) before it counts it.
            var expired = await WaitForLeasesExpiredAsync(http, survivorHttp, expiredBefore + Movers + 1, TimeSpan.FromSeconds(60));
            output.WriteLine($"leases expired on the survivor: {expired - expiredBefore}");
            var offline = await observer.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id), TimeSpan.FromSeconds(30), "leaver offline");
            // Handed over, not announced at the close: the offline waited for the lease.
            var offlineAfterClose = observer.ArrivalOf(offline) - (observer.Age - (clock.Elapsed - leaverClose.ClosedAt));
            output.WriteLine($"leaver offline {offlineAfterClose.TotalSeconds:F1} s after its close");
            Assert.True(offlineAfterClose >= TimeSpan.FromSeconds(3), $"offline {offlineAfterClose.TotalSeconds:F1} s after the close");

            // Barrier: a frame sent now by a peer on the survivor reaches the observer after anything queued for it
            // before (the reaps included). Then: still no offline for any mover, exactly one for the leaver.
            await moved[0].Again.MarkAsync(observer);
            foreach (var m in moved) Assert.DoesNotContain(observer.Received, f => Frame.IsOfflineOf(f, m.Id));
            Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, leaver.Id)));
            // The movers are reachable where they are now, and they know each other.
            foreach (var m in moved) await observer.DirectMarkAsync(m.Again);
            await moved[0].Again.MarkAsync([.. moved.Skip(1).Select(m => m.Again)]);
        }
        finally
        {
            await Task.WhenAll(peers.Select(p => p.DisposeAsync().AsTask()));
        }
    }

    private static async Task<TestPeer> Live(Uri uri, string peerId, List<TestPeer> peers)
    {
        var peer = await TestPeer.ConnectAsync(uri, peerId);
        lock (peers) peers.Add(peer);
        await peer.RegisterAsync();
        peer.StartKeepAlive(KeepAlive, usePresence: true);
        return peer;
    }

    private static async Task<double> LeasesExpiredAsync(HttpClient http, Uri node)
    {
        using var response = await http.GetAsync(new Uri(node, "metrics"));
        response.EnsureSuccessStatusCode();
        return PrometheusText.Sum(await response.Content.ReadAsStringAsync(), "relay_cluster_leases_expired_total") ?? 0;
    }

    private static async Task<double> WaitForLeasesExpiredAsync(HttpClient http, Uri node, double atLeast, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var count = await LeasesExpiredAsync(http, node);
            if (count >= atLeast) return count;
            if (watch.Elapsed > timeout) throw new TimeoutException($"{node}: relay_cluster_leases_expired_total is {count}, expected at least {atLeast}");
            await Task.Delay(200);
        }
    }
}

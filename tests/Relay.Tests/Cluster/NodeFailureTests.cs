using System.Diagnostics;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.Tests.Cluster;

/// <summary>
/// Node failures on a real process cluster (2 silos, 2 gateway-only nodes, Redis), each test with its own
/// cluster because it kills a node with SIGKILL. Liveness runs at the real defaults (30 s stale timeout).
/// </summary>
[Trait("Category", "Cluster")]
public sealed class NodeFailureTests(ITestOutputHelper output)
{
    // Like the real clients: presence again every 10 s.
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Peers_of_a_killed_gateway_go_offline_once_between_30_and_40_s_and_the_survivors_lose_nothing()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, 2);
        var mesh = "?mesh=kill-gateway";
        Uri On(int gateway) => new(cluster.Gateways[gateway], mesh);

        await using var observer = await Live(On(0), "observer");
        await using var sender = await Live(On(0), "sender");
        await using var receiver = await Live(On(0), "receiver");
        var tabs = TestPeer.NewId("tabs");
        await using var tabHere = await Live(On(0), tabs);
        await using var tabThere = await TestPeer.ConnectAsync(On(1), tabs);
        await tabThere.RegisterAsync();
        await using var victim = await TestPeer.ConnectAsync(On(1), TestPeer.NewId("victim"));
        await victim.RegisterAsync();
        var victimLastFrame = Stopwatch.StartNew();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, victim.Id));

        using var traffic = new Traffic(sender, receiver);
        cluster.Kill("gateway2");
        var killedAt = victimLastFrame.Elapsed;

        var offline = await observer.WaitForAsync(f => Frame.IsOfflineOf(f, victim.Id), TimeSpan.FromSeconds(60), "victim offline");
        var after = observer.ArrivalOf(offline) - (observer.Age - victimLastFrame.Elapsed);
        output.WriteLine($"killed {killedAt.TotalSeconds:F1} s after the victim's last frame; offline after {after.TotalSeconds:F1} s");
        Assert.InRange(after.TotalSeconds, 30, 40);

        // Exactly once, and nothing about the tabs (their peer keeps a connection here): barrier, then count.
        await traffic.StopAsync();
        await sender.MarkAsync(observer);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, victim.Id)));
        Assert.DoesNotContain(observer.Received, f => Frame.IsOfflineOf(f, tabs));
        traffic.AssertNothingLost();
    }

    [Fact]
    public async Task Killing_one_of_two_silos_keeps_peers_online_and_reports_every_frame_it_could_not_deliver()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, 2);
        var mesh = "?mesh=kill-silo";
        Uri On(int gateway) => new(cluster.Gateways[gateway], mesh);

        await using var a = await Live(On(0), "a");
        await using var b = await Live(On(1), "b");
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id)); // each gateway knows the other's peer
        using var traffic = new Traffic(a, b);

        cluster.Kill("silo2");
        var killed = Stopwatch.StartNew();

        // Reachable again within a bounded time: a marker round trip both ways.
        var recovered = await RetryAsync(async () =>
        {
            await a.DirectMarkAsync(b);
            await b.DirectMarkAsync(a);
        }, TimeSpan.FromSeconds(60));
        output.WriteLine($"cross-node round trip works again {killed.Elapsed.TotalSeconds:F1} s after the kill (attempts: {recovered})");

        // No false offline for a whole stale period after the kill.
        await using var late = await Live(On(1), "late");
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

    private static async Task<TestPeer> Live(Uri uri, string prefix)
    {
        var peer = await TestPeer.ConnectAsync(uri, prefix.Contains('-', StringComparison.Ordinal) ? prefix : TestPeer.NewId(prefix));
        await peer.RegisterAsync();
        peer.StartKeepAlive(KeepAlive, usePresence: true);
        return peer;
    }

    private static async Task<int> RetryAsync(Func<Task> attempt, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        for (var attempts = 1; ; attempts++)
        {
            try
            {
                await attempt().WaitAsync(TimeSpan.FromSeconds(5));
                return attempts;
            }
            catch (Exception) when (clock.Elapsed < limit)
            {
                // not yet: the cluster is still healing
            }
        }
    }

    /// <summary>A steady stream of numbered direct frames from one peer to another, every 20 ms.</summary>
    private sealed class Traffic : IDisposable
    {
        private readonly TestPeer _to;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _sent;

        public Traffic(TestPeer from, TestPeer to)
        {
            _to = to;
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    await from.SendAsync(new { type = "direct", to = to.Id, data = new { seq = _sent, traffic = true } });
                    Interlocked.Increment(ref _sent);
                    await Task.Delay(20); // pacing the load, not synchronising
                }
            });
        }

        public int Sent => Volatile.Read(ref _sent);

        public int Lost => Sent - _to.All(IsTraffic).Select(f => Frame.Seq(f)).Distinct().Count();

        /// <summary>The sequence numbers that never arrived, as ranges ("12-55, 80").</summary>
        public string Missing()
        {
            var seen = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToHashSet();
            var missing = Enumerable.Range(0, Sent).Where(i => !seen.Contains(i)).ToList();
            var ranges = new List<string>();
            for (var i = 0; i < missing.Count;)
            {
                var j = i;
                while (j + 1 < missing.Count && missing[j + 1] == missing[j] + 1) j++;
                ranges.Add(i == j ? $"{missing[i]}" : $"{missing[i]}-{missing[j]}");
                i = j + 1;
            }
            return string.Join(", ", ranges);
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            // The last frame sent is in order behind every earlier one: once it is here, the rest is too (or lost).
            await _to.WaitForAsync(f => IsTraffic(f) && Frame.Seq(f) == Sent - 1, TimeSpan.FromSeconds(30));
        }

        /// <summary>Whatever arrived, arrived once and in the order it was sent (gaps allowed).</summary>
        public void AssertInOrderOnce()
        {
            var seqs = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToArray();
            for (var i = 1; i < seqs.Length; i++)
            {
                Assert.True(seqs[i] > seqs[i - 1], $"frame {seqs[i]} arrived after frame {seqs[i - 1]}");
            }
        }

        public void AssertNothingLost()
        {
            var seqs = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToArray();
            Assert.Equal(Enumerable.Range(0, Sent).Select(i => (long)i), seqs);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }

        private static bool IsTraffic(System.Text.Json.JsonElement frame) =>
            Frame.IsType(frame, "direct") && Frame.Data(frame) is { } data && data.TryGetProperty("traffic", out _);
    }
}

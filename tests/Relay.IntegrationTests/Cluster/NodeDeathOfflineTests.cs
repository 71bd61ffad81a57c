using System.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// The contract's "offline 30-40 s after the peer's last frame, whatever died", for each kind of node killed with
/// SIGKILL on a real process cluster (Redis, each test its own cluster): a gateway-only node, a silo-only node, a
/// co-hosted node (silo and gateway in one process). Each survivor of the mesh, on two surviving nodes, must see
/// each peer that left offline exactly once, between 30 and 40 s after that peer's last frame. Liveness runs at the
/// real defaults (30 s stale timeout), failure detection as <c>scripts/cluster.sh</c> ships it.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class NodeDeathOfflineTests(ITestOutputHelper output)
{
    // Several, because where Orleans places their peer grains is its choice: some live where they die.
    private const int VictimCount = 4;
    private static readonly TimeSpan OfflineTimeout = TimeSpan.FromSeconds(75);

    [Fact]
    public async Task Peers_of_a_killed_gateway_go_offline_once_for_every_survivor_30_to_40_s_after_their_last_frame()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, 3);
        Uri On(int gateway) => new(cluster.Gateways[gateway], "?mesh=kill-gateway");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var sender = await LivePeer.ConnectAsync(On(0), "sender");
        await using var receiver = await LivePeer.ConnectAsync(On(0), "receiver");
        // A peer with a connection on the dead gateway and one here stays online.
        var tabs = TestPeer.NewId("tabs");
        await using var tabHere = await LivePeer.ConnectAsync(On(0), tabs);
        await using var tabThere = await TestPeer.ConnectAsync(On(2), tabs);
        await tabThere.RegisterAsync();
        await using var victims = await Victims.RegisterAsync(survivors, On(2));

        using var traffic = new DirectTraffic(sender, receiver);
        cluster.Kill("gateway3");
        output.WriteLine($"killed {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");

        await AssertOfflineOnceAsync(survivors, victims);
        await traffic.StopAsync();
        await sender.MarkAsync(survivors.Peers);
        Assert.All(survivors.Peers, s => Assert.DoesNotContain(s.Received, f => Frame.IsOfflineOf(f, tabs)));
        traffic.AssertNothingLost();
    }

    [Fact]
    public async Task Peers_whose_gateway_dies_just_after_their_first_frame_in_a_while_go_offline_30_to_40_s_after_it()
    {
        // The grains know a frame only once the gateway reported it, and the gateway reports every 2 s. Victims silent
        // for 10 s send one frame each, and their gateway dies a quarter of a second later, most likely before its next
        // periodic report: counted from the registration the grains heard of, offline would come 24 s after that frame.
        await using var cluster = await ProcessCluster.StartAsync(2, 3);
        Uri On(int gateway) => new(cluster.Gateways[gateway], "?mesh=kill-after-silence");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var victims = await Victims.RegisterAsync(survivors, On(2));
        await Task.Delay(TimeSpan.FromSeconds(10));
        foreach (var (victim, lastFrame) in victims.Peers)
        {
            // A capabilities request: a frame like any other, whose answer says the gateway has handled it.
            await victim.SyncAsync();
            lastFrame.Restart();
        }
        var rest = TimeSpan.FromMilliseconds(250) - victims.SinceLastFrame();
        if (rest > TimeSpan.Zero) await Task.Delay(rest);

        output.WriteLine($"killing {victims.SinceLastFrame().TotalSeconds:F2} s after the last victim's last frame");
        cluster.Kill("gateway3");

        await AssertOfflineOnceAsync(survivors, victims);
        await survivors.AssertNoneOfflineAsync();
    }

    [Fact]
    public async Task Peers_of_a_killed_gateway_go_offline_on_time_when_a_silo_holding_their_grains_dies_too()
    {
        // The victims' gateway dies first, so nobody renews their leases; then a silo dies, and with it the peer grains
        // (and timers) of about half of them, and maybe the mesh grain. The gateways must have the lost grains revived
        // (nothing else would before their reminders, a minute later), and a revived mesh grain must still know whom
        // to tell. Eight victims, so that some grains are all but certain to be on the silo that dies.
        await using var cluster = await ProcessCluster.StartAsync(2, 3);
        Uri On(int gateway) => new(cluster.Gateways[gateway], "?mesh=kill-gateway-then-silo");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var victims = await Victims.RegisterAsync(survivors, 8, On(2));

        cluster.Kill("gateway3");
        cluster.Kill("silo2");
        output.WriteLine($"killed {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");

        await AssertOfflineOnceAsync(survivors, victims);
        await survivors.AssertNoneOfflineAsync();
    }

    [Fact]
    public async Task Peers_of_a_killed_co_hosted_node_go_offline_once_for_every_survivor_30_to_40_s_after_their_last_frame()
    {
        // Three nodes: survivors on two of them, and the peer grains of the victims' connections (placed by Orleans,
        // most of them on the victims' node) die with the third.
        await using var cluster = await ProcessCluster.StartCoHostedAsync(3);
        Uri On(int node) => new(cluster.Gateways[node], "?mesh=kill-node");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var victims = await Victims.RegisterAsync(survivors, On(2));

        cluster.Kill("node3");
        output.WriteLine($"killed {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");

        await AssertOfflineOnceAsync(survivors, victims);
        await survivors.AssertNoneOfflineAsync();
    }

    [Fact]
    public async Task Peers_of_a_killed_co_hosted_node_go_offline_on_time_when_the_node_holding_their_revived_grains_dies_too()
    {
        // The first death re-activates the victims' peer grains on the three survivors (where, Orleans chooses); the
        // second kills those on the third before their leases end. Nothing else would revive them before their
        // reminders (a minute later): the second death must be reported for the first node's members too. Twelve
        // victims, so that some grains are all but certain to be on the second node.
        await using var cluster = await ProcessCluster.StartCoHostedAsync(4);
        const string mesh = "kill-twice";
        Uri On(int node) => new(cluster.Gateways[node], $"?mesh={mesh}");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var victims = await Victims.RegisterAsync(survivors, 12, On(3));

        cluster.Kill("node4");
        output.WriteLine($"killed {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");
        // The mesh grain has told the victims' grains to watch their leases: they are being re-activated.
        await cluster.WaitForLogAsync($"Mesh {mesh}: gateway ", TimeSpan.FromSeconds(20));
        cluster.Kill("node3");
        output.WriteLine($"second kill {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");

        await AssertOfflineOnceAsync(survivors, victims);
        await survivors.AssertNoneOfflineAsync();
    }

    [Fact]
    public async Task Peers_that_fall_silent_as_a_silo_is_killed_go_offline_once_for_every_survivor_30_to_40_s_after_their_last_frame()
    {
        // A silo-only node holds no sockets, only grains: the peers whose grains (and mesh grain) it held and who fall
        // silent when it dies must still go offline on time, and once; the others stay online.
        await using var cluster = await ProcessCluster.StartAsync(2, 2);
        Uri On(int gateway) => new(cluster.Gateways[gateway], "?mesh=kill-silo-only");

        await using var survivors = await Survivors.ConnectAsync(On(0), On(1));
        await using var victims = await Victims.RegisterAsync(survivors, On(0), On(1));

        cluster.Kill("silo2");
        output.WriteLine($"killed {victims.SinceLastFrame().TotalSeconds:F1} s after the last victim's last frame");

        await AssertOfflineOnceAsync(survivors, victims);
        await survivors.AssertNoneOfflineAsync();
    }

    /// <summary>Each survivor sees each victim offline between 30 and 40 s after the victim's last frame, and (after a
    /// barrier) exactly once.</summary>
    private async Task AssertOfflineOnceAsync(Survivors survivors, Victims victims)
    {
        var delays = new List<(string Survivor, string Victim, double Seconds)>();
        foreach (var (victim, lastFrame) in victims.Peers)
        {
            foreach (var survivor in survivors.Peers)
            {
                var offline = await survivor.WaitForAsync(f => Frame.IsOfflineOf(f, victim.Id), OfflineTimeout, $"{victim.Id} offline at {survivor.Id}");
                var after = survivor.ArrivalOf(offline) - (survivor.Age - lastFrame.Elapsed);
                delays.Add((survivor.Id, victim.Id, after.TotalSeconds));
            }
        }
        output.WriteLine("offline after the last frame (s): " + string.Join(", ", delays.Select(d => $"{d.Seconds:F1}")));
        Assert.All(delays, d => Assert.InRange(d.Seconds, 30, 40));

        await survivors.BarrierAsync();
        foreach (var (victim, _) in victims.Peers)
        {
            Assert.All(survivors.Peers, s => Assert.Equal(1, s.Count(f => Frame.IsOfflineOf(f, victim.Id))));
        }
    }

    /// <summary>Peers that stay, one on each of two surviving nodes, and a marker peer beside the first.</summary>
    private sealed class Survivors : IAsyncDisposable
    {
        private Survivors(TestPeer[] peers, TestPeer marker)
        {
            Peers = peers;
            Marker = marker;
        }

        public TestPeer[] Peers { get; }

        public TestPeer Marker { get; }

        public static async Task<Survivors> ConnectAsync(Uri first, Uri second)
        {
            var peers = new[] { await LivePeer.ConnectAsync(first, "survivor"), await LivePeer.ConnectAsync(second, "survivor") };
            // Each node knows the other's peer before anything dies.
            await peers[0].WaitForAsync(f => Frame.IsPresenceOf(f, peers[1].Id));
            await peers[1].WaitForAsync(f => Frame.IsPresenceOf(f, peers[0].Id));
            return new Survivors(peers, await LivePeer.ConnectAsync(first, "marker"));
        }

        /// <summary>Whatever the relay sent the survivors before the marker's broadcast has arrived.</summary>
        public async Task BarrierAsync() => await Marker.MarkAsync(Peers);

        public async Task AssertNoneOfflineAsync()
        {
            await BarrierAsync();
            foreach (var peer in Peers)
            {
                Assert.DoesNotContain(peer.Received, f => Frame.IsType(f, "offline") && Peers.Concat([Marker]).Any(p => Frame.IsOfflineOf(f, p.Id)));
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var peer in Peers) await peer.DisposeAsync();
            await Marker.DisposeAsync();
        }
    }

    /// <summary>Peers that register (their last frame) on the given nodes in turn, and then say nothing more.</summary>
    private sealed class Victims : IAsyncDisposable
    {
        private Victims((TestPeer Peer, Stopwatch LastFrame)[] peers) => Peers = peers;

        public (TestPeer Peer, Stopwatch LastFrame)[] Peers { get; }

        public static Task<Victims> RegisterAsync(Survivors survivors, params Uri[] nodes) => RegisterAsync(survivors, VictimCount, nodes);

        public static async Task<Victims> RegisterAsync(Survivors survivors, int count, params Uri[] nodes)
        {
            var peers = new List<(TestPeer, Stopwatch)>();
            for (var i = 0; i < count; i++)
            {
                var peer = await TestPeer.ConnectAsync(nodes[i % nodes.Length], TestPeer.NewId("victim"));
                await peer.RegisterAsync();
                peers.Add((peer, Stopwatch.StartNew()));
            }
            foreach (var (peer, _) in peers)
            {
                foreach (var survivor in survivors.Peers) await survivor.WaitForAsync(f => Frame.IsPresenceOf(f, peer.Id));
            }
            return new Victims([.. peers]);
        }

        public TimeSpan SinceLastFrame() => Peers[^1].LastFrame.Elapsed;

        public async ValueTask DisposeAsync()
        {
            foreach (var (peer, _) in Peers) await peer.DisposeAsync();
        }
    }
}

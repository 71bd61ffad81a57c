using System.Diagnostics;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// The shipped docker-compose.yml, run for real on Docker (redis and three co-hosted nodes, each a silo and a gateway;
/// see <see cref="ComposeCluster"/>), checked only through the nodes' published loopback ports: peers on different
/// nodes talk in order; a node that crashes is restarted by Docker and turns healthy, the peers on the other nodes
/// keep talking, and they see what docs/protocol.md promises of the crashed node's peers; <c>docker compose down</c>
/// leaves nothing behind. Each test has a cluster of its own (up to down) and the tests of this class run one after
/// the other.
/// </summary>
[Trait("Category", "Compose")]
public sealed class ComposeClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(90);

    [DockerFact]
    public async Task Every_service_turns_healthy_and_peers_on_different_nodes_exchange_directs_and_broadcasts_in_order()
    {
        await using var cluster = await ComposeCluster.UpAsync(output);
        // Published on loopback only (the file says so; this checks that the engine did it).
        for (var k = 1; k <= ComposeCluster.Nodes.Length; k++)
        {
            Assert.Equal($"127.0.0.1:{cluster.NodePorts[k - 1]}", await cluster.PublishedAsync($"node{k}", 8080));
        }
        var mesh = Mesh();
        await using var a = await TestPeer.ConnectAsync(cluster.Node(1, mesh), TestPeer.NewId("a"));
        await a.RegisterAsync();
        await using var b = await TestPeer.ConnectAsync(cluster.Node(2, mesh), TestPeer.NewId("b"));
        var snapshot = await b.RegisterAsync();
        Assert.Single(snapshot, f => Frame.From(f) == a.Id);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        // The third node serves the same mesh: a newcomer there meets both, and both meet it.
        await using var c = await TestPeer.ConnectAsync(cluster.Node(3, mesh), TestPeer.NewId("c"));
        var third = await c.RegisterAsync();
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), third.Select(Frame.From).Order(StringComparer.Ordinal));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));

        const int Frames = 100;
        await Task.WhenAll(SendMixedAsync(a, b, Frames), SendMixedAsync(b, a, Frames));
        await AssertMixedArrivedAsync(a, b, Frames);
        await AssertMixedArrivedAsync(b, a, Frames);

        await cluster.DownAsync();
    }

    [DockerFact]
    public async Task A_crashed_node_is_restarted_healthy_while_the_peers_on_the_other_nodes_keep_talking_and_are_told_of_any_loss()
    {
        // node3 holds no socket of this mesh, but being a silo it holds grains, some of them likely a's, b's or their
        // mesh's: their conversation across node1 and node2 must survive its crash.
        await using var cluster = await ComposeCluster.UpAsync(output);
        var mesh = Mesh();
        await using var a = await LivePeer.ConnectAsync(cluster.Node(1, mesh), "a");
        await using var b = await LivePeer.ConnectAsync(cluster.Node(2, mesh), "b");
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        using var ab = new DirectTraffic(a, b);
        using var ba = new DirectTraffic(b, a);

        var killed = await cluster.KillAsync("node3");
        var restarted = await cluster.WaitForRestartAsync("node3", killed, RestartTimeout);
        var tries = await Eventually.SucceedsAsync(async () =>
        {
            await a.DirectMarkAsync(b);
            await b.DirectMarkAsync(a);
        }, TimeSpan.FromSeconds(60));
        output.WriteLine($"node3 restarted and healthy {restarted.TotalSeconds:F1} s after its SIGKILL; a round trip across node1 and node2 took {tries} tries");

        await ab.StopAsync();
        await ba.StopAsync();
        var errors = a.Received.Concat(b.Received).Where(Frame.IsRelayError).ToList();
        output.WriteLine($"a -> b: sent {ab.Sent}, lost {ab.Lost} ({ab.Missing()}); b -> a: sent {ba.Sent}, lost {ba.Lost} ({ba.Missing()}); " +
            $"relay errors: {string.Join(", ", errors.Select(f => Frame.DataStr(f, "code")))}");
        ab.AssertInOrderOnce();
        ba.AssertInOrderOnce();
        if (ab.Lost + ba.Lost > 0)
        {
            Assert.Contains(errors, f => Frame.IsError(f, "undelivered") || Frame.IsError(f, "lost_in_transit"));
        }
        // Nobody went offline: each one's marker reached the other after everything it sent.
        await a.MarkAsync(b);
        await b.MarkAsync(a);
        Assert.DoesNotContain(a.Received, f => Frame.IsOfflineOf(f, b.Id));
        Assert.DoesNotContain(b.Received, f => Frame.IsOfflineOf(f, a.Id));

        await cluster.DownAsync();
    }

    [DockerFact]
    public async Task A_crashed_node_is_restarted_healthy_and_only_its_peer_that_did_not_reconnect_goes_offline_once_after_30_to_40_s()
    {
        // The crashed node was silo and gateway at once: the grains of its peers' connections (placed by Orleans, many
        // of them there) die with their sockets, and the survivors must still reap the victim on time.
        await using var cluster = await ComposeCluster.UpAsync(output);
        var mesh = Mesh();
        await using var observer = await LivePeer.ConnectAsync(cluster.Node(1, mesh), "observer");
        await using var witness = await LivePeer.ConnectAsync(cluster.Node(3, mesh), "witness");
        await using var mover = await TestPeer.ConnectAsync(cluster.Node(2, mesh), TestPeer.NewId("mover"));
        await mover.RegisterAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, mover.Id));
        await witness.WaitForAsync(f => Frame.IsPresenceOf(f, mover.Id));
        // The scenario, not a synchronisation: the victim's last frame comes 5 s after the mover's, so the mover's
        // connection on the crashed node expires first, and an offline of the mover (which must not come) would
        // reach the survivors before the victim's.
        await Task.Delay(TimeSpan.FromSeconds(5));
        await using var victim = await TestPeer.ConnectAsync(cluster.Node(2, mesh), TestPeer.NewId("victim"));
        await victim.RegisterAsync();
        var victimLastFrame = Stopwatch.StartNew();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, victim.Id));
        await witness.WaitForAsync(f => Frame.IsPresenceOf(f, victim.Id));

        var killed = await cluster.KillAsync("node2");
        // Their sockets close with the process, and the mover reconnects to another node at once, as itself.
        await mover.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        await victim.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        await using var moved = await LivePeer.ConnectAsync(cluster.Node(1, mesh), mover.Id);
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, mover.Id));
        await moved.DirectMarkAsync(observer);
        await observer.DirectMarkAsync(moved);
        await moved.DirectMarkAsync(witness);

        var restarted = await cluster.WaitForRestartAsync("node2", killed, RestartTimeout);
        output.WriteLine($"node2 restarted and healthy {restarted.TotalSeconds:F1} s after its SIGKILL");

        // Every survivor of the mesh, on either surviving node, hears of the victim once, 30-40 s after its last frame.
        foreach (var survivor in new[] { observer, witness })
        {
            var offline = await survivor.WaitForAsync(f => Frame.IsOfflineOf(f, victim.Id), TimeSpan.FromSeconds(60), "the victim's offline");
            var after = survivor.ArrivalOf(offline) - (survivor.Age - victimLastFrame.Elapsed);
            output.WriteLine($"{survivor.Id} saw the victim go offline {after.TotalSeconds:F1} s after its last frame");
            Assert.InRange(after.TotalSeconds, 30, 40);
        }

        // The restarted node serves again: a newcomer there meets the living peers, not the departed victim.
        await using var newcomer = await TestPeer.ConnectAsync(cluster.Node(2, mesh), TestPeer.NewId("newcomer"));
        var snapshot = await newcomer.RegisterAsync();
        Assert.Equal(new[] { mover.Id, observer.Id, witness.Id }.Order(StringComparer.Ordinal), snapshot.Select(Frame.From).Order(StringComparer.Ordinal));
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await witness.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await moved.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await moved.MarkAsync(observer, witness, newcomer);
        await observer.MarkAsync(moved, witness, newcomer);
        await witness.MarkAsync(moved, observer, newcomer);
        foreach (var survivor in new[] { observer, witness })
        {
            Assert.Equal(1, survivor.Count(f => Frame.IsOfflineOf(f, victim.Id)));
            Assert.DoesNotContain(survivor.Received, f => Frame.IsOfflineOf(f, mover.Id));
        }
        Assert.DoesNotContain(newcomer.Received, f => Frame.NamesPeer(f, victim.Id));

        await cluster.DownAsync();
    }

    private static string Mesh() => $"?mesh={TestPeer.NewId("compose")}";

    /// <summary>Sends <paramref name="count"/> numbered frames to <paramref name="to"/>, directs and broadcasts in turn.
    /// Their data names the sender: the other's broadcasts with equal data would be dropped as echoes.</summary>
    private static async Task SendMixedAsync(TestPeer from, TestPeer to, int count)
    {
        for (var seq = 0; seq < count; seq++)
        {
            await from.SendAsync(seq % 2 == 0
                ? new { type = "direct", to = to.Id, data = new { seq, mixed = from.Id } }
                : (object)new { type = "broadcast", data = new { seq, mixed = from.Id } });
        }
    }

    /// <summary>Every frame <paramref name="from"/> sent arrived at <paramref name="to"/> once, in the order sent.</summary>
    private static async Task AssertMixedArrivedAsync(TestPeer from, TestPeer to, int count)
    {
        static bool IsMixed(JsonElement f) => Frame.Data(f) is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("mixed", out _);
        var got = await to.WaitForCountAsync(f => Frame.Sender(f) == from.Id && IsMixed(f), count, TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, count).Select(i => (long?)i), got.Select(Frame.Seq));
        Assert.Equal(Enumerable.Range(0, count).Select(i => i % 2 == 0 ? "direct" : "broadcast"), got.Select(Frame.Type));
        await from.MarkAsync(to);
        Assert.Equal(count, to.Count(f => Frame.Sender(f) == from.Id && IsMixed(f)));
    }
}

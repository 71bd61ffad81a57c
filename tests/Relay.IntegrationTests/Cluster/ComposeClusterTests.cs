using System.Diagnostics;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// The shipped docker-compose.yml, run for real on Docker (redis, two silos, two gateways; see
/// <see cref="ComposeCluster"/>), checked only through the gateways' published loopback ports: peers on the two
/// gateways talk in order; a silo or a gateway that crashes is restarted by Docker and turns healthy, and the peers
/// see what docs/protocol.md promises; <c>docker compose down</c> leaves nothing behind. Each test has a cluster of
/// its own (up to down) and the tests of this class run one after the other.
/// </summary>
[Trait("Category", "Compose")]
public sealed class ComposeClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(90);

    [DockerFact]
    public async Task Every_service_turns_healthy_and_peers_on_the_two_gateways_exchange_directs_and_broadcasts_in_order()
    {
        await using var cluster = await ComposeCluster.UpAsync(output);
        // Published on loopback only (the file says so; this checks that the engine did it).
        Assert.Equal($"127.0.0.1:{cluster.GatewayPorts[0]}", await cluster.PublishedAsync("gateway1", 8080));
        Assert.Equal($"127.0.0.1:{cluster.GatewayPorts[1]}", await cluster.PublishedAsync("gateway2", 8080));
        var mesh = Mesh();
        await using var a = await TestPeer.ConnectAsync(cluster.Gateway(1, mesh), TestPeer.NewId("a"));
        await a.RegisterAsync();
        await using var b = await TestPeer.ConnectAsync(cluster.Gateway(2, mesh), TestPeer.NewId("b"));
        var snapshot = await b.RegisterAsync();
        Assert.Single(snapshot, f => Frame.From(f) == a.Id);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        const int Frames = 100;
        await Task.WhenAll(SendMixedAsync(a, b, Frames), SendMixedAsync(b, a, Frames));
        await AssertMixedArrivedAsync(a, b, Frames);
        await AssertMixedArrivedAsync(b, a, Frames);

        await cluster.DownAsync();
    }

    [DockerFact]
    public async Task A_crashed_silo_is_restarted_healthy_while_the_peers_keep_talking_and_are_told_of_any_loss()
    {
        await using var cluster = await ComposeCluster.UpAsync(output);
        var mesh = Mesh();
        await using var a = await LivePeer.ConnectAsync(cluster.Gateway(1, mesh), "a");
        await using var b = await LivePeer.ConnectAsync(cluster.Gateway(2, mesh), "b");
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        using var ab = new DirectTraffic(a, b);
        using var ba = new DirectTraffic(b, a);

        var killed = await cluster.KillAsync("silo1");
        var restarted = await cluster.WaitForRestartAsync("silo1", killed, RestartTimeout);
        var tries = await Eventually.SucceedsAsync(async () =>
        {
            await a.DirectMarkAsync(b);
            await b.DirectMarkAsync(a);
        }, TimeSpan.FromSeconds(60));
        output.WriteLine($"silo1 restarted and healthy {restarted.TotalSeconds:F1} s after its SIGKILL; a round trip across the gateways took {tries} tries");

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
    public async Task A_crashed_gateway_is_restarted_healthy_and_only_its_peer_that_did_not_reconnect_goes_offline_once_after_30_to_40_s()
    {
        await using var cluster = await ComposeCluster.UpAsync(output);
        var mesh = Mesh();
        await using var observer = await LivePeer.ConnectAsync(cluster.Gateway(1, mesh), "observer");
        await using var mover = await TestPeer.ConnectAsync(cluster.Gateway(2, mesh), TestPeer.NewId("mover"));
        await mover.RegisterAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, mover.Id));
        // The scenario, not a synchronisation: the victim's last frame comes 5 s after the mover's, so the mover's
        // connection on the crashed gateway expires first, and an offline of the mover (which must not come) would
        // reach the observer before the victim's.
        await Task.Delay(TimeSpan.FromSeconds(5));
        await using var victim = await TestPeer.ConnectAsync(cluster.Gateway(2, mesh), TestPeer.NewId("victim"));
        await victim.RegisterAsync();
        var victimLastFrame = Stopwatch.StartNew();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, victim.Id));

        var killed = await cluster.KillAsync("gateway2");
        // Their sockets close with the process, and the mover reconnects to the other gateway at once, as itself.
        await mover.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        await victim.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        await using var moved = await LivePeer.ConnectAsync(cluster.Gateway(1, mesh), mover.Id);
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, mover.Id));
        await moved.DirectMarkAsync(observer);
        await observer.DirectMarkAsync(moved);

        var restarted = await cluster.WaitForRestartAsync("gateway2", killed, RestartTimeout);
        output.WriteLine($"gateway2 restarted and healthy {restarted.TotalSeconds:F1} s after its SIGKILL");

        var offline = await observer.WaitForAsync(f => Frame.IsOfflineOf(f, victim.Id), TimeSpan.FromSeconds(60), "the victim's offline");
        var after = observer.ArrivalOf(offline) - (observer.Age - victimLastFrame.Elapsed);
        output.WriteLine($"the victim went offline {after.TotalSeconds:F1} s after its last frame");
        Assert.InRange(after.TotalSeconds, 30, 40);

        // The restarted gateway serves again: a newcomer there meets the observer and the mover, not the departed victim.
        await using var newcomer = await TestPeer.ConnectAsync(cluster.Gateway(2, mesh), TestPeer.NewId("newcomer"));
        var snapshot = await newcomer.RegisterAsync();
        Assert.Equal(new[] { mover.Id, observer.Id }.Order(StringComparer.Ordinal), snapshot.Select(Frame.From).Order(StringComparer.Ordinal));
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await moved.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await moved.MarkAsync(observer, newcomer);
        await observer.MarkAsync(moved, newcomer);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, victim.Id)));
        Assert.DoesNotContain(observer.Received, f => Frame.IsOfflineOf(f, mover.Id));
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

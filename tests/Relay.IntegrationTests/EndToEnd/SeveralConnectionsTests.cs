using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Several connections per peer id": browser tabs share an id.</summary>
public sealed class SeveralConnectionsTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Fact]
    public async Task Frames_addressed_to_a_peer_id_reach_every_connection_of_it()
    {
        var id = TestPeer.NewId("tabs");
        var tab1 = await JoinAsync(id);
        var tab2 = await JoinAsync(id);
        var a = await JoinAsync();

        await a.SendAsync(new { type = "direct", to = id, data = new { n = "direct" } });
        await a.SendAsync(new { type = "broadcast", data = new { n = "broadcast" } });
        await a.SendAsync(new { type = "stream", data = new { n = "stream" } });
        foreach (var tab in new[] { tab1, tab2 })
        {
            var frames = await tab.WaitForCountAsync(f => Frame.Sender(f) == a.Id && Frame.DataStr(f, "n") is not null, 3);
            Assert.Equal(["direct", "broadcast", "stream"], frames.Select(f => Frame.DataStr(f, "n")!));
        }
    }

    [Fact]
    public async Task Frames_from_one_connection_reach_no_connection_of_the_same_id()
    {
        var id = TestPeer.NewId("tabs");
        var tab1 = await JoinAsync(id);
        var tab2 = await JoinAsync(id);
        var a = await JoinAsync();
        Assert.Equal(0, tab1.Count(f => Frame.IsPresenceOf(f, id)));
        await tab2.SyncAsync();
        Assert.Equal(0, tab2.Count(f => Frame.IsPresenceOf(f, id)));

        await tab1.SendAsync(new { type = "broadcast", data = new { n = 1 } });
        await tab1.SendAsync(new { type = "ring-update", data = new { n = 2 } });
        await tab1.PresenceAsync(new { n = 3 });
        await tab1.SendAsync(new { type = "direct", to = id, data = new { n = 4 } });
        await a.WaitForCountAsync(f => Frame.Sender(f) == id && Frame.Data(f)?.ValueKind == JsonValueKind.Object && Frame.Data(f)!.Value.TryGetProperty("n", out _), 3);

        await FlushAsync(tab1, a, tab2, tab1);
        Assert.DoesNotContain(tab2.Received, f => Frame.Sender(f) == id || Frame.From(f) == id);
        Assert.DoesNotContain(tab1.Received, f => Frame.Sender(f) == id || Frame.From(f) == id);
        // A direct to one's own id reaches nobody (lead decision: unknown_target when nothing else matches).
        Assert.Single(tab1.Received, f => Frame.IsError(f, "unknown_target"));
    }

    [Fact]
    public async Task Each_connection_gets_its_own_snapshot_with_one_entry_per_other_peer_id()
    {
        var b = TestPeer.NewId("b");
        var b1 = await JoinAsync(b, new { tab = 1 });
        var b2 = await JoinAsync(b, new { tab = 2 }); // latest metadata of peer b
        var c = await JoinAsync();

        var id = TestPeer.NewId("tabs");
        var tab1 = await ConnectAsync(id);
        var snapshot1 = await tab1.RegisterAsync(new { me = 1 });
        var tab2 = await ConnectAsync(id);
        var snapshot2 = await tab2.RegisterAsync(new { me = 2 });

        foreach (var snapshot in new[] { snapshot1, snapshot2 })
        {
            Assert.Equal(new[] { b, c.Id }.Order(StringComparer.Ordinal), snapshot.Select(f => Frame.From(f)!).Order(StringComparer.Ordinal));
            Assert.Equal(2, snapshot.Single(f => Frame.From(f) == b).GetProperty("data").GetProperty("tab").GetInt32());
        }

        // The second tab's presence is announced to the others like any presence, but not to the first tab.
        await b1.WaitForCountAsync(f => Frame.IsPresenceOf(f, id), 2);
        await c.WaitForCountAsync(f => Frame.IsPresenceOf(f, id), 2);
        await tab2.MarkAsync(b2);
        await tab1.SyncAsync();
        Assert.DoesNotContain(tab1.Received, f => Frame.From(f) == id);
    }

    [Fact]
    public async Task Offline_goes_out_once_when_the_last_connection_of_the_id_closes()
    {
        await StartRelayAsync(FastLiveness.Settings);
        var a = await JoinAsync();
        a.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var id = TestPeer.NewId("tabs");
        var tab1 = await JoinAsync(id);
        tab1.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var tab2 = await JoinAsync(id);
        tab2.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        await WaitForConnectionCountAsync(3);

        await tab1.CloseAsync();
        await WaitForConnectionCountAsync(2); // the relay finished handling the first tab's departure
        await tab2.MarkAsync(a);
        Assert.Equal(0, a.Count(f => Frame.IsOfflineOf(f, id)));
        Assert.Contains(id, PeersOf(await InvocationsAsync(Mesh)));
        await a.SendAsync(new { type = "direct", to = id, data = new { still = "here" } });
        await tab2.WaitForAsync(f => Frame.DataStr(f, "still") == "here");

        await tab2.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, id));
        await QuietPeriodAsync(a);
        Assert.Equal(1, a.Count(f => Frame.IsOfflineOf(f, id)));
        Assert.DoesNotContain(id, PeersOf(await InvocationsAsync(Mesh)));
    }

    [Fact]
    public async Task Reaping_one_silent_tab_sends_nothing_while_another_tab_of_the_id_is_alive()
    {
        await StartRelayAsync(FastLiveness.Settings);
        var a = await JoinAsync();
        a.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var id = TestPeer.NewId("tabs");
        var background = await JoinAsync(id, new { tab = "background" }); // throttled: sends nothing
        var backgroundConnection = ConnectionsOfMesh().Single(c => c.PeerId == id);
        var foreground = await JoinAsync(id, new { tab = "foreground" });
        foreground.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);

        // Well past the stale timeout (a later witness is reaped), the background tab was reaped: nothing went out.
        await QuietPeriodAsync(a);
        Assert.False(backgroundConnection.Registered, "the silent tab should have been reaped");
        await foreground.MarkAsync(a);
        Assert.Equal(0, a.Count(f => Frame.IsOfflineOf(f, id)));
        Assert.Contains(id, PeersOf(await InvocationsAsync(Mesh)));
        Assert.False(background.HasEnded);

        // Its next presence registers it again: its own snapshot, and the others hear the presence.
        var snapshot = await background.RegisterAsync(new { tab = "background", back = true });
        Assert.Contains(snapshot, f => Frame.From(f) == a.Id);
        Assert.DoesNotContain(snapshot, f => Frame.From(f) == id);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, id) && Frame.Data(f)!.Value.TryGetProperty("back", out _));

        // Offline only when the last connection goes.
        background.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        await foreground.CloseAsync();
        await WaitForConnectionCountAsync(4); // a, background, the witness, the chatter
        await background.MarkAsync(a);
        Assert.Equal(0, a.Count(f => Frame.IsOfflineOf(f, id)));
        await background.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, id));
        await QuietPeriodAsync(a);
        Assert.Equal(1, a.Count(f => Frame.IsOfflineOf(f, id)));
    }

    [Fact]
    public async Task Lingering_old_socket_closing_does_not_drop_the_live_peer()
    {
        // A reconnecting client's old socket may close after the new one registered.
        var a = await JoinAsync();
        var id = TestPeer.NewId("client");
        var old = await JoinAsync(id);
        var fresh = await JoinAsync(id);

        old.Abort();
        await WaitForConnectionCountAsync(2);
        await fresh.MarkAsync(a);
        Assert.Equal(0, a.Count(f => Frame.IsOfflineOf(f, id)));
        await a.SendAsync(new { type = "direct", to = id, data = new { ping = 1 } });
        await fresh.WaitForAsync(f => Frame.IsType(f, "direct"));
    }
}

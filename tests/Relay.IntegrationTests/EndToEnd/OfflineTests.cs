using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Offline (base)" (exactly once, beyond) and "Never a word about the departed". Runs under
/// short stale timeouts so "nothing more arrives" can be proved with a witness peer's reap.</summary>
public sealed class OfflineTests : EndToEndTest
{
    public override async Task InitializeAsync() => await StartRelayAsync(FastLiveness.Settings);

    private async Task<TestPeer> JoinAliveAsync(string? peerId = null, object? data = null)
    {
        var peer = await JoinAsync(peerId, data);
        peer.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        return peer;
    }

    [Fact]
    public async Task Closing_a_registered_connection_sends_offline_exactly_once_to_every_other_peer()
    {
        var a = await JoinAliveAsync();
        var b = await JoinAliveAsync();
        var leaver = await JoinAliveAsync();

        var before = UnixNow();
        await leaver.CloseAsync();
        foreach (var observer in new[] { a, b })
        {
            var offline = await observer.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));
            Assert.Equal(["data", "from", "timestamp", "type"], offline.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal("""{"status":"offline"}""", offline.GetProperty("data").GetRawText().Replace(" ", "", StringComparison.Ordinal));
            AssertUnixSeconds(offline.GetProperty("timestamp"), before, UnixNow());
        }

        await QuietPeriodAsync(a);
        await b.MarkAsync(a);
        Assert.Equal(1, a.Count(f => Frame.NamesPeer(f, leaver.Id) && Frame.IsOffline(f)));
        Assert.Equal(1, b.Count(f => Frame.NamesPeer(f, leaver.Id) && Frame.IsOffline(f)));
        Assert.DoesNotContain(PeersOf(await InvocationsAsync(Mesh)), id => id == leaver.Id);
    }

    [Fact]
    public async Task Offline_comes_after_everything_the_peer_sent_and_nothing_of_it_follows()
    {
        var a = await JoinAliveAsync();
        var leaver = await JoinAliveAsync();
        const int Frames = 200;
        for (var seq = 0; seq < Frames; seq++) await leaver.SendAsync(new { type = "stream", data = new { seq } });
        await leaver.CloseAsync();

        await a.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));
        var seen = a.Received.ToList();
        var offlineAt = seen.FindIndex(f => Frame.IsOfflineOf(f, leaver.Id));
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i),
            seen.Take(offlineAt).Where(f => Frame.IsType(f, "stream") && Frame.Sender(f) == leaver.Id).Select(f => Frame.Seq(f)!.Value));
        await QuietPeriodAsync(a);
        Assert.DoesNotContain(a.Received.Skip(offlineAt + 1), f => Frame.From(f) == leaver.Id || Frame.Sender(f) == leaver.Id);
    }

    [Fact]
    public async Task Dropped_transport_sends_offline_exactly_once()
    {
        var a = await JoinAliveAsync();
        var leaver = await JoinAliveAsync();

        leaver.Abort();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));
        await QuietPeriodAsync(a);
        Assert.Equal(1, a.Count(f => Frame.IsOfflineOf(f, leaver.Id)));
    }

    [Fact]
    public async Task Unregistered_connection_closing_sends_nothing()
    {
        var a = await JoinAliveAsync();
        var b = await JoinAliveAsync();
        var lurker = await ConnectAsync();
        await lurker.SyncAsync();
        await WaitForConnectionCountAsync(3);

        await lurker.CloseAsync();
        await WaitForConnectionCountAsync(2); // the relay finished handling its departure
        await b.MarkAsync(a);
        Assert.DoesNotContain(a.Received, f => Frame.From(f) == lurker.Id);
    }

    [Fact]
    public async Task Nothing_names_a_departed_peer_until_it_registers_again()
    {
        var a = await JoinAliveAsync();
        var leaver = await JoinAliveAsync(data: new { agents = new[] { "chat" } });
        await leaver.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));

        // A newcomer's snapshot and capabilities do not name it; nobody hears of it again.
        var newcomer = await JoinAliveAsync();
        Assert.DoesNotContain(newcomer.Received, f => Frame.From(f) == leaver.Id);
        var capabilities = await newcomer.SyncAsync();
        Assert.DoesNotContain("chat", capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()));
        await QuietPeriodAsync(a);
        var seen = a.Received.ToList();
        var offlineAt = seen.FindIndex(f => Frame.IsOfflineOf(f, leaver.Id));
        Assert.DoesNotContain(seen.Skip(offlineAt + 1), f => Frame.From(f) == leaver.Id || Frame.Sender(f) == leaver.Id);
        Assert.Equal(1, a.Count(f => Frame.IsOfflineOf(f, leaver.Id)));
        Assert.DoesNotContain(newcomer.Received, f => Frame.From(f) == leaver.Id || Frame.Sender(f) == leaver.Id);

        // Registering again (a reload: new connection, same id) announces it and gives it a snapshot.
        var back = await ConnectAsync(leaver.Id);
        var snapshot = await back.RegisterAsync(new { agents = new[] { "chat" } });
        Assert.Contains(snapshot, f => Frame.IsPresenceOf(f, a.Id));
        Assert.Contains(snapshot, f => Frame.IsPresenceOf(f, newcomer.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, leaver.Id));
        await newcomer.WaitForAsync(f => Frame.IsPresenceOf(f, leaver.Id));
    }
}

using System.Diagnostics;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Reaping" and "Keep sockets open": a silent peer is reaped (offline once) while its socket
/// stays open, and its next presence registers it again; any frame counts as life; a connection that answers
/// neither frames nor pings is dead and closed. Short stale timeouts (2 s).</summary>
public sealed class ReapingTests : EndToEndTest
{
    private async Task<TestPeer> JoinAliveAsync(string? peerId = null, object? data = null)
    {
        var peer = await JoinAsync(peerId, data);
        peer.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        return peer;
    }

    [Fact]
    public async Task Silent_peer_is_reaped_once_its_socket_stays_open_and_its_next_presence_registers_it_again()
    {
        await StartRelayAsync(FastLiveness.Settings);
        var observer = await JoinAliveAsync(data: new { role = "observer" });
        var other = await JoinAliveAsync();
        var silent = await ConnectAsync();
        await silent.PresenceAsync(new { agents = new[] { "sleepy" } });
        var lastFrame = Stopwatch.StartNew(); // just before its last frame (the sync's capabilities)
        await silent.SyncAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, silent.Id));

        // A throttled background tab: answers pings, sends nothing.
        var offline = await observer.WaitForAsync(f => Frame.IsOfflineOf(f, silent.Id), TimeSpan.FromSeconds(10));
        var elapsed = lastFrame.Elapsed;
        Assert.InRange(elapsed, FastLiveness.StaleTimeout, FastLiveness.StaleTimeout + TimeSpan.FromSeconds(2.5));
        await other.WaitForAsync(f => Frame.IsOfflineOf(f, silent.Id));
        Assert.Equal(WebSocketState.Open, silent.State);
        Assert.False(silent.HasEnded);
        Assert.DoesNotContain(silent.Id, PeersOf(await InvocationsAsync(Mesh)));
        var capabilities = await observer.SyncAsync();
        Assert.DoesNotContain("sleepy", capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()));

        // Its next presence registers it again as a newcomer: a fresh snapshot, and everybody hears of it.
        var snapshot = await silent.RegisterAsync(new { agents = new[] { "sleepy" }, back = true });
        silent.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        Assert.Equal(new[] { observer.Id, other.Id }.Order(StringComparer.Ordinal), snapshot.Select(f => Frame.From(f)!).Order(StringComparer.Ordinal));
        Assert.Equal("observer", snapshot.Single(f => Frame.From(f) == observer.Id).GetProperty("data").GetProperty("role").GetString());
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, silent.Id) && Frame.Data(f)!.Value.TryGetProperty("back", out _));
        await other.WaitForAsync(f => Frame.IsPresenceOf(f, silent.Id) && Frame.Data(f)!.Value.TryGetProperty("back", out _));

        // Exactly once, and nothing (no late duplicate) declares it offline again while it is alive.
        await QuietPeriodAsync(observer);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, silent.Id)));
        Assert.Equal(1, other.Count(f => Frame.IsOfflineOf(f, silent.Id)));
        Assert.Contains(silent.Id, PeersOf(await InvocationsAsync(Mesh)));
        Assert.Equal(offline.GetProperty("from").GetString(), silent.Id);
    }

    [Fact]
    public async Task Reaping_silent_peers_does_not_close_idle_listeners()
    {
        // Listeners that keep sending (heartbeats) but had nothing to read for a stale timeout are healthy: the
        // offline notices queued for them when the silent peers are reaped must not make them look stalled.
        await StartRelayAsync(FastLiveness.Settings);
        var silent = new List<TestPeer>();
        var listeners = new List<TestPeer>();
        for (var i = 0; i < 6; i++)
        {
            silent.Add(await JoinAsync(TestPeer.NewId($"silent{i}")));
            var listener = await JoinAsync(TestPeer.NewId($"listener{i}"));
            listener.StartKeepAlive(FastLiveness.KeepAliveInterval);
            listeners.Add(listener);
        }
        // The silent peers' last frames are heartbeats, which nobody receives: the listeners read nothing from now on.
        foreach (var peer in silent) await peer.HeartbeatAsync();

        foreach (var listener in listeners)
        {
            foreach (var peer in silent) await listener.WaitForAsync(f => Frame.IsOfflineOf(f, peer.Id), TimeSpan.FromSeconds(10));
        }
        var talker = await JoinAsync();
        await talker.MarkAsync([.. listeners]);
        Assert.All(listeners, l => Assert.False(l.HasEnded, l.Dump()));
    }

    [Fact]
    public async Task Closing_a_reaped_connection_sends_no_second_offline()
    {
        await StartRelayAsync(FastLiveness.Settings);
        var observer = await JoinAliveAsync();
        var talker = await JoinAliveAsync();
        var silent = await JoinAsync();
        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, silent.Id));

        await silent.CloseAsync();
        var watch = Stopwatch.StartNew();
        while (ConnectionsOfMesh().Any(c => c.PeerId == silent.Id))
        {
            Assert.True(watch.Elapsed < TestPeer.DefaultTimeout, "the relay still holds the closed connection");
            await Task.Delay(20);
        }
        await talker.MarkAsync(observer);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, silent.Id)));
    }

    [Fact]
    public async Task Any_frame_keeps_a_peer_alive()
    {
        await StartRelayAsync(FastLiveness.Settings);
        var observer = await JoinAliveAsync();
        var byHeartbeat = await JoinAsync(TestPeer.NewId("heartbeats"));
        byHeartbeat.StartKeepAlive(FastLiveness.KeepAliveInterval);
        var byPresence = await JoinAsync(TestPeer.NewId("presences"));
        byPresence.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var byStream = await JoinAsync(TestPeer.NewId("streams"));
        using var stop = new CancellationTokenSource();
        var streaming = Task.Run(async () =>
        {
            // relay.py counted only presence/heartbeat; beyond: any frame counts.
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                await byStream.SendAsync(new { type = "stream", data = new { seq } });
                await Task.Delay(FastLiveness.KeepAliveInterval, CancellationToken.None);
            }
        });

        // Well over a stale timeout later (a witness registered after a second is reaped), nobody but the witness left.
        await observer.WaitForAsync(f => Frame.Sender(f) == byStream.Id && Frame.Seq(f) == 3);
        await QuietPeriodAsync(observer);
        await stop.CancelAsync();
        await streaming;
        Assert.DoesNotContain(observer.Received, f => Frame.IsOffline(f) && !Frame.From(f)!.StartsWith("witness", StringComparison.Ordinal));
        var online = PeersOf(await InvocationsAsync(Mesh));
        Assert.All(new[] { observer, byHeartbeat, byPresence, byStream }, p => Assert.Contains(p.Id, online));
    }

    [Fact]
    public async Task Connection_answering_neither_frames_nor_pings_is_closed_and_its_peer_goes_offline_once()
    {
        await StartRelayAsync(FastLiveness.With("Relay:PingInterval=00:00:00.250"));
        var observer = await JoinAliveAsync();
        await EnsureChatterAsync();
        var dead = await ConnectToAsync(MeshUri(), TestPeer.NewId("dead"), startReading: false);
        await dead.PresenceAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, dead.Id));
        // It keeps sending, so only its silence on pings (it never reads, so it never answers them) can kill it.
        dead.StartKeepAlive(FastLiveness.KeepAliveInterval);

        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, dead.Id), TimeSpan.FromSeconds(15));
        await QuietPeriodAsync(observer);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, dead.Id)));
        Assert.DoesNotContain(dead.Id, PeersOf(await InvocationsAsync(Mesh)));
        var watch = Stopwatch.StartNew();
        while (ConnectionsOfMesh().Any(c => c.PeerId == dead.Id))
        {
            Assert.True(watch.Elapsed < TestPeer.DefaultTimeout, "the relay still holds the dead connection");
            await Task.Delay(20);
        }

        dead.StartReading();
        await dead.WaitForCloseAsync(TimeSpan.FromSeconds(10));
    }
}

/// <summary>protocol.md "Reaping (base)" at the real default timing: offline between 30 and 40 s after the last frame.</summary>
public sealed class DefaultReapTimingTests : EndToEndTest
{
    [Fact]
    public async Task Silent_peer_goes_offline_between_30_and_40_seconds_after_its_last_frame()
    {
        await StartRelayAsync();
        var observer = await JoinAsync();
        // The real clients' keepalive: presence every 10 s.
        observer.StartKeepAlive(TimeSpan.FromSeconds(10), usePresence: true);
        var silent = await ConnectAsync();
        await silent.PresenceAsync();
        var sinceLastFrame = Stopwatch.StartNew();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, silent.Id));

        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, silent.Id), TimeSpan.FromSeconds(45));
        var elapsed = sinceLastFrame.Elapsed;
        Assert.InRange(elapsed, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(40));
        Assert.Equal(WebSocketState.Open, silent.State);
        Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, silent.Id)));
    }
}

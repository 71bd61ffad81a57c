using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Peers on different gateway nodes of a real 2-silo, 2-gateway cluster see exactly what they would see on one
/// node: snapshot, announce, every form of direct addressing, broadcast, stream, capabilities, offline once,
/// meshes, several connections per id across nodes, and per-sender order under load.
/// </summary>
[Collection(ClusterGroup.Name)]
[Trait("Category", "Cluster")]
public sealed class CrossNodeTests(SharedCluster shared) : IAsyncLifetime
{
    private readonly List<TestPeer> _peers = [];
    private readonly string _mesh = "m" + Guid.NewGuid().ToString("N")[..12];

    private Uri Gateway(int index, string? mesh = null) => new(shared.Cluster.Gateways[index], $"?mesh={mesh ?? _mesh}");

    private async Task<TestPeer> JoinAsync(int gateway, string? id = null, object? data = null, string? mesh = null)
    {
        var peer = await TestPeer.ConnectAsync(Gateway(gateway, mesh), id ?? TestPeer.NewId("p"));
        _peers.Add(peer);
        await peer.RegisterAsync(data);
        return peer;
    }

    [Fact]
    public async Task Snapshot_and_announce_cross_gateways()
    {
        var a = await JoinAsync(0, data: new { agents = new[] { "chat" }, n = 1 });
        var b = await TestPeer.ConnectAsync(Gateway(1), TestPeer.NewId("b"));
        _peers.Add(b);
        var snapshot = await b.RegisterAsync(new { agents = new[] { "agi" } });

        var entry = Assert.Single(snapshot, f => Frame.From(f) == a.Id);
        Assert.Equal(1, entry.GetProperty("data").GetProperty("n").GetInt32());
        var announce = await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        Assert.Equal(b.Id, Frame.Sender(announce));
    }

    [Fact]
    public async Task Direct_reaches_a_peer_on_the_other_gateway_in_every_addressing_form()
    {
        var a = await JoinAsync(0, data: new { agents = new[] { "chat" } });
        var b = await JoinAsync(1, data: new { agents = new[] { "agi", "writer" } });
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        await a.SendAsync(new { type = "direct", to = b.Id, data = new { form = 1 } });
        await a.SendAsync(new { type = "direct", to = "agi", targetInstanceId = b.Id, data = new { form = 2 } });
        await a.SendAsync(new { type = "direct", to = "writer", data = new { form = 3 } });
        await a.SendAsync(new { type = "direct", to = "chat", data = new { form = 4 } }); // a's own agent: local
        await a.SendAsync(new { type = "direct", to = "nobody", data = new { form = 5 } });

        var got = await b.WaitForCountAsync(f => Frame.IsType(f, "direct"), 3);
        Assert.Equal([1, 2, 3], got.Select(f => f.GetProperty("data").GetProperty("form").GetInt32()));
        Assert.All(got, f => Assert.Equal(a.Id, Frame.Sender(f)));
        await a.WaitForAsync(f => Frame.IsError(f, "unknown_target"));
        await a.DirectMarkAsync(b);
        Assert.DoesNotContain(b.Received, f => Frame.IsType(f, "direct") && Frame.Data(f) is { } data
            && data.TryGetProperty("form", out var form) && form.GetInt32() is 4 or 5);
    }

    [Fact]
    public async Task An_agent_listed_on_both_gateways_is_ambiguous()
    {
        var a = await JoinAsync(0);
        var b = await JoinAsync(0, data: new { agents = new[] { "agi" } });
        var c = await JoinAsync(1, data: new { agents = new[] { "agi" } });
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));

        await a.SendAsync(new { type = "direct", to = "agi", data = new { } });

        var error = await a.WaitForAsync(f => Frame.IsError(f, "ambiguous_target"));
        var candidates = error.GetProperty("data").GetProperty("candidates").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(new[] { b.Id, c.Id }.Order(StringComparer.Ordinal), candidates);
    }

    [Fact]
    public async Task Broadcast_stream_and_capabilities_span_gateways()
    {
        var a = await JoinAsync(0, data: new { agents = new[] { "chat" } });
        var b = await JoinAsync(1, data: new { agents = new[] { "agi" } });
        var c = await JoinAsync(1);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));

        await a.SendAsync(new { type = "broadcast", data = new { hello = 1 } });
        await a.SendAsync(new { type = "stream", data = new { chunk = "x" } });
        foreach (var receiver in new[] { b, c })
        {
            await receiver.WaitForAsync(f => Frame.IsType(f, "broadcast") && Frame.Sender(f) == a.Id);
            await receiver.WaitForAsync(f => Frame.IsType(f, "stream") && Frame.Sender(f) == a.Id);
        }
        await b.MarkAsync(a, c);
        Assert.DoesNotContain(a.Received, f => Frame.IsType(f, "broadcast"));

        var capabilities = await c.SyncAsync();
        var agents = capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains("chat", agents);
        Assert.Contains("agi", agents);
    }

    [Fact]
    public async Task Offline_goes_out_once_on_both_gateways()
    {
        var a = await JoinAsync(0);
        var b = await JoinAsync(1);
        var c = await JoinAsync(0);
        var leaver = await JoinAsync(1);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, leaver.Id));
        await c.WaitForAsync(f => Frame.IsPresenceOf(f, leaver.Id));

        await leaver.CloseAsync();

        foreach (var observer in new[] { a, b, c }) await observer.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));
        await b.MarkAsync(a, c);
        await a.MarkAsync(b, c);
        foreach (var observer in new[] { a, b, c }) Assert.Equal(1, observer.Count(f => Frame.IsOfflineOf(f, leaver.Id)));
    }

    [Fact]
    public async Task Meshes_stay_apart_across_gateways()
    {
        var other = "o" + Guid.NewGuid().ToString("N")[..12];
        var a = await JoinAsync(0);
        var stranger = await JoinAsync(1, mesh: other);
        var b = await JoinAsync(1);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        await stranger.SendAsync(new { type = "broadcast", data = new { leak = true } });
        await a.SendAsync(new { type = "direct", to = stranger.Id, data = new { } });
        await a.WaitForAsync(f => Frame.IsError(f, "unknown_target"));
        var strangerMarker = stranger.MarkAsync();
        await a.MarkAsync(b);
        await strangerMarker;
        Assert.DoesNotContain(a.Received, f => Frame.NamesPeer(f, stranger.Id) || Frame.IsType(f, "broadcast"));
        Assert.DoesNotContain(stranger.Received, f => Frame.NamesPeer(f, a.Id) || Frame.NamesPeer(f, b.Id));
    }

    [Fact]
    public async Task Two_tabs_of_one_peer_on_two_gateways()
    {
        var id = TestPeer.NewId("tabs");
        var observer = await JoinAsync(0);
        var tab1 = await JoinAsync(0, id);
        var tab2 = await JoinAsync(1, id);
        // Both tabs announced (the second from the other gateway): the observer's gateway knows both.
        await observer.WaitForCountAsync(f => Frame.IsPresenceOf(f, id), 2);

        // Frames to the id reach both tabs; frames from either reach neither.
        await observer.SendAsync(new { type = "direct", to = id, data = new { n = 1 } });
        await tab1.WaitForAsync(f => Frame.IsType(f, "direct") && Frame.Sender(f) == observer.Id);
        await tab2.WaitForAsync(f => Frame.IsType(f, "direct") && Frame.Sender(f) == observer.Id);
        await tab1.SendAsync(new { type = "broadcast", data = new { from = "tab1" } });
        await tab2.SendAsync(new { type = "broadcast", data = new { from = "tab2" } });
        await observer.WaitForCountAsync(f => Frame.IsType(f, "broadcast"), 2);
        await tab1.MarkAsync(observer);
        await tab2.MarkAsync(observer);
        Assert.DoesNotContain(tab1.Received, f => Frame.IsType(f, "broadcast"));
        Assert.DoesNotContain(tab2.Received, f => Frame.IsType(f, "broadcast"));

        // The first tab closing says nothing; the last one closing takes the peer offline, once.
        await tab1.CloseAsync();
        await tab2.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.IsOfflineOf(f, id));
        await observer.SendAsync(new { type = "direct", to = id, data = new { n = 2 } });
        await tab2.WaitForAsync(f => Frame.IsType(f, "direct") && f.GetProperty("data").GetProperty("n").GetInt32() == 2);
        await tab2.CloseAsync();
        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, id));
    }

    [Fact]
    public async Task Per_sender_order_holds_across_gateways_under_load()
    {
        const int Messages = 1000;
        var senders = new[] { await JoinAsync(0), await JoinAsync(1), await JoinAsync(0) };
        var receivers = new[] { await JoinAsync(1), await JoinAsync(0) };
        // Like real clients, a sender addresses a peer once it has seen that peer's presence (which is also when
        // its gateway has learnt where the peer is).
        foreach (var receiver in receivers)
        {
            foreach (var sender in senders)
            {
                await receiver.WaitForAsync(f => Frame.IsPresenceOf(f, sender.Id));
                await sender.WaitForAsync(f => Frame.IsPresenceOf(f, receiver.Id));
            }
        }

        await Task.WhenAll(senders.Select(sender => Task.Run(async () =>
        {
            for (var seq = 0; seq < Messages; seq++)
            {
                // Mixed types: a direct must never overtake a broadcast of the same sender, nor the reverse. The data
                // names the sender: equal broadcast data from two senders would be (rightly) echo-suppressed.
                if (seq % 3 == 0) await sender.SendAsync(new { type = "stream", data = new { seq, by = sender.Id } });
                else if (seq % 3 == 1) await sender.SendAsync(new { type = "broadcast", data = new { seq, by = sender.Id } });
                else
                {
                    foreach (var receiver in receivers) await sender.SendAsync(new { type = "direct", to = receiver.Id, data = new { seq } });
                }
            }
        })));

        foreach (var receiver in receivers)
        {
            foreach (var sender in senders)
            {
                var frames = await receiver.WaitForCountAsync(
                    f => Frame.Sender(f) == sender.Id && Frame.Seq(f) is not null, Messages, TimeSpan.FromSeconds(120));
                Assert.Equal(Enumerable.Range(0, Messages).Select(i => (long)i), frames.Select(f => Frame.Seq(f)!.Value));
            }
            Assert.DoesNotContain(receiver.Received, Frame.IsRelayError);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var peer in _peers) await peer.DisposeAsync();
    }
}

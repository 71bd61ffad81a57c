using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Routing (base)": broadcast-class types reach every other peer of the mesh, direct only its
/// target, heartbeat nobody, and every presence is rebroadcast.</summary>
public sealed class RoutingTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    private static readonly string[] Types =
    [
        "broadcast", "stream", "ack", "turn_end", "error", "invoke", "ring-update", "relay-log", "relay-connected",
        "relay-config-updated", "launch_agent", "chat", "some.unknown-type",
    ];

    public static TheoryData<string> BroadcastClassTypes => new(Types);

    [Theory]
    [MemberData(nameof(BroadcastClassTypes))]
    public async Task Broadcast_class_type_reaches_every_other_peer_of_the_mesh_but_not_the_sender(string type)
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        var c = await JoinAsync();
        var outsider = await JoinAsync(mesh: Mesh + "-x");

        var payload = Guid.NewGuid().ToString("N");
        await a.SendAsync(new { type, data = new { payload } });

        foreach (var receiver in new[] { b, c })
        {
            var frame = await receiver.WaitForAsync(f => Frame.IsType(f, type) && Frame.DataStr(f, "payload") == payload);
            Assert.Equal(a.Id, Frame.Sender(frame));
        }
        await a.SyncAsync();
        await outsider.SyncAsync();
        Assert.Equal(0, a.Count(f => Frame.DataStr(f, "payload") == payload));
        Assert.Equal(0, outsider.Count(f => Frame.DataStr(f, "payload") == payload));
    }

    [Fact]
    public async Task Broadcast_class_frames_arrive_in_the_order_sent_across_types()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        var types = Types;
        for (var i = 0; i < types.Length; i++) await a.SendAsync(new { type = types[i], data = new { seq = i } });

        var received = await b.WaitForCountAsync(f => Frame.Sender(f) == a.Id && Frame.Seq(f) is not null, types.Length);
        Assert.Equal(Enumerable.Range(0, types.Length).Select(i => (long)i), received.Select(f => Frame.Seq(f)!.Value));
        Assert.Equal(types, received.Select(f => Frame.Type(f)!));
    }

    [Fact]
    public async Task Direct_to_a_peer_id_reaches_only_that_peer()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        var c = await JoinAsync();

        await a.SendAsync(new { type = "direct", to = b.Id, data = new { secret = "for b" } });
        var frame = await b.WaitForAsync(f => Frame.IsType(f, "direct"));
        Assert.Equal("for b", Frame.DataStr(frame, "secret"));
        Assert.Equal(a.Id, Frame.Sender(frame));

        await a.MarkAsync(c);
        await a.SyncAsync();
        Assert.Equal(0, c.Count(f => Frame.IsType(f, "direct")));
        Assert.Equal(0, a.Count(f => Frame.IsType(f, "direct") || Frame.IsRelayError(f)));
    }

    [Fact]
    public async Task Heartbeat_is_never_forwarded()
    {
        var b = await JoinAsync();
        var a = await ConnectAsync();
        await a.HeartbeatAsync(); // before registration
        await a.RegisterAsync();
        await a.HeartbeatAsync();
        await a.SendAsync(new { type = "heartbeat", from = a.Id, data = new { status = "online" } });
        await a.SendAsync(new { type = "heartbeat" });

        await a.MarkAsync(b);
        var sync = await a.SyncAsync();
        Assert.Equal(0, b.Count(f => Frame.IsType(f, "heartbeat")));
        Assert.Equal(0, a.Count(Frame.IsRelayError));
        Assert.Equal(JsonValueKind.Object, sync.ValueKind);
    }

    [Fact]
    public async Task Every_presence_is_rebroadcast()
    {
        var b = await JoinAsync();
        var a = await JoinAsync(data: new { status = "online" });
        await b.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id));

        // The real clients' keepalive: the same presence every 10 s.
        for (var i = 0; i < 3; i++) await a.PresenceAsync(new { status = "online" });
        var again = await b.WaitForCountAsync(f => Frame.IsPresenceOf(f, a.Id), 3);
        Assert.All(again, f => Assert.Equal("online", Frame.DataStr(f, "status")));
    }

    [Fact]
    public async Task Relay_never_sends_presence_or_heartbeat_from_relay()
    {
        var a = await JoinAsync();
        var b = await JoinAsync(data: new { agents = new[] { "chat" } });
        var c = await JoinAsync();
        await a.SendAsync("not json");
        await a.SendAsync(new { type = "direct", to = "nobody", data = new { } });
        await a.SendAsync(new { type = "capabilities_request" });
        await a.SendAsync(new { type = "presence", from = "relay", data = new { } });
        await c.CloseAsync();
        await b.WaitForAsync(f => Frame.IsOfflineOf(f, c.Id));
        var d = await JoinAsync();
        await a.MarkAsync(b, d);
        await a.SyncAsync();

        foreach (var peer in new[] { a, b, d })
        {
            Assert.DoesNotContain(peer.Received, f => (Frame.IsType(f, "presence") || Frame.IsType(f, "heartbeat")) && Frame.From(f) == "relay");
            Assert.DoesNotContain(peer.Received, f => Frame.IsType(f, "heartbeat"));
        }
    }
}

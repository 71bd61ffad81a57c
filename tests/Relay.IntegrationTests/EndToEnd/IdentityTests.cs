using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "One id per connection" and the reserved id <c>relay</c>.</summary>
public sealed class IdentityTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Fact]
    public async Task Presence_with_another_from_is_refused_with_id_change_and_not_forwarded()
    {
        var observer = await JoinAsync();
        var a = await JoinAsync();
        var other = TestPeer.NewId("other");

        await a.SendAsync($$"""{"type":"presence","from":"{{other}}","data":{"agents":["chat"]},"turnId":"t-id"}""");
        var error = await a.WaitForAsync(f => Frame.IsError(f, "id_change"));
        Assert.Equal(a.Id, Frame.Str(error, "to"));
        Assert.Equal("t-id", Frame.Str(error, "turnId"));

        await a.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.From(f) == other || Frame.Sender(f) == other);
        Assert.DoesNotContain(other, PeersOf(await InvocationsAsync(Mesh)));

        // Still bound to its first id, still open and working.
        await a.PresenceAsync(new { again = true });
        var presence = await observer.WaitForAsync(f => Frame.IsPresenceOf(f, a.Id) && Frame.Data(f)!.Value.TryGetProperty("again", out _));
        Assert.Equal(a.Id, Frame.Sender(presence));
        await a.SendAsync(new { type = "broadcast", from = other, data = new { x = 1 } });
        var broadcast = await observer.WaitForAsync(f => Frame.IsType(f, "broadcast"));
        Assert.Equal(a.Id, Frame.Sender(broadcast));
    }

    [Fact]
    public async Task Presence_from_relay_is_refused_with_reserved_id()
    {
        var observer = await JoinAsync();
        var a = await ConnectAsync();

        await a.SendAsync("""{"type":"presence","from":"relay","data":{},"turnId":7}""");
        var error = await a.WaitForAsync(f => Frame.IsError(f, "reserved_id"));
        Assert.Equal(7, error.GetProperty("turnId").GetInt32());

        // Not registered as "relay": it can still register under a proper id, and nobody heard of "relay".
        await a.RegisterAsync();
        await a.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.From(f) == "relay" && Frame.IsType(f, "presence"));
        Assert.DoesNotContain("relay", PeersOf(await InvocationsAsync(Mesh)));
    }

    [Fact]
    public async Task Registered_connection_cannot_switch_to_relay()
    {
        var observer = await JoinAsync();
        var a = await JoinAsync();
        await a.SendAsync(new { type = "presence", from = "relay", data = new { } });
        var error = await a.WaitForAsync(f => Frame.IsRelayError(f));
        Assert.Contains(Frame.DataStr(error, "code"), new[] { "reserved_id", "id_change" });
        await a.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.From(f) == "relay" && Frame.Type(f) is "presence" or "heartbeat");
        Assert.DoesNotContain(observer.Received, f => Frame.From(f) == "relay" && Frame.Sender(f) is not null);
    }

    [Theory]
    [InlineData("""{"type":"presence","data":{}}""", "invalid_presence")]
    [InlineData("""{"type":"presence","from":"","data":{}}""", "invalid_presence")]
    [InlineData("""{"type":"presence","from":"bad\u0001id","data":{}}""", "invalid_presence")]
    // null and numbers are "not strings": the parser's invalid_field is as right as invalid_presence.
    [InlineData("""{"type":"presence","from":null,"data":{}}""", "invalid_presence|invalid_field")]
    [InlineData("""{"type":"presence","from":42,"data":{}}""", "invalid_presence|invalid_field")]
    public async Task Presence_without_a_usable_string_from_is_refused(string frame, string codes)
    {
        var observer = await JoinAsync();
        var a = await ConnectAsync();
        await a.SendAsync(frame);
        var error = await a.WaitForAsync(Frame.IsRelayError);
        Assert.Contains(Frame.DataStr(error, "code"), codes.Split('|'));
        await a.SyncAsync();
        Assert.Single(a.Received, f => Frame.IsRelayError(f));

        await a.RegisterAsync();
        await a.MarkAsync(observer);
        Assert.Single(observer.Received, f => Frame.Sender(f) == a.Id && Frame.IsType(f, "presence"));
    }

    [Fact]
    public async Task Peer_id_longer_than_the_limit_is_refused()
    {
        var observer = await JoinAsync();
        var a = await ConnectAsync(new string('p', 257));
        await a.PresenceAsync();
        await a.WaitForAsync(f => Frame.IsError(f, "invalid_presence"));
        await a.SendAsync(new { type = "broadcast", data = new { } });
        await a.WaitForAsync(f => Frame.IsError(f, "not_registered"));

        var ok = await ConnectAsync(new string('p', 256));
        await ok.RegisterAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, ok.Id));
    }
}

using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Before registration": presence, heartbeat, capabilities, capabilities_request and auth
/// are handled; anything else is answered with <c>not_registered</c> and not forwarded.</summary>
public sealed class BeforeRegistrationTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Theory]
    [InlineData("""{"type":"broadcast","data":{"leak":1},"turnId":"t-b"}""", "t-b")]
    [InlineData("""{"type":"stream","data":{"leak":2},"turnId":"t-s"}""", "t-s")]
    [InlineData("""{"type":"relay-log","data":{"message":"Connecting to ws://host/?access_token=x","leak":3},"turnId":"t-l"}""", "t-l")]
    [InlineData("""{"type":"ring-update","data":{"leak":4}}""", null)]
    [InlineData("""{"type":"launch_agent","data":{"leak":5},"turnId":"t-u"}""", "t-u")]
    public async Task Frame_before_the_first_presence_gets_not_registered_and_is_not_forwarded(string frame, string? turnId)
    {
        var observer = await JoinAsync();
        var newcomer = await ConnectAsync();
        await newcomer.SendAsync(frame);

        var error = await newcomer.WaitForAsync(f => Frame.IsError(f, "not_registered"));
        Assert.Equal(turnId, Frame.Str(error, "turnId"));
        // Not bound to a peer id yet: no "to" (or a null one).
        Assert.True(!error.TryGetProperty("to", out var to) || to.ValueKind == System.Text.Json.JsonValueKind.Null, error.ToString());

        // Its presence is the first thing anyone hears from it: were the earlier frame forwarded, it would precede.
        await newcomer.RegisterAsync();
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await newcomer.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.Data(f) is { ValueKind: System.Text.Json.JsonValueKind.Object } d && d.TryGetProperty("leak", out _));
    }

    [Fact]
    public async Task Direct_before_the_first_presence_gets_not_registered_and_is_not_delivered()
    {
        var target = await JoinAsync();
        var newcomer = await ConnectAsync();
        await newcomer.SendAsync(new { type = "direct", to = target.Id, data = new { leak = true } });
        await newcomer.WaitForAsync(f => Frame.IsError(f, "not_registered"));
        await newcomer.RegisterAsync();
        await newcomer.DirectMarkAsync(target);
        Assert.DoesNotContain(target.Received, f => Frame.IsType(f, "direct") && Frame.Data(f)!.Value.TryGetProperty("leak", out _));
    }

    [Fact]
    public async Task Presence_heartbeat_capabilities_and_auth_are_handled_before_registration()
    {
        var observer = await JoinAsync();
        var newcomer = await ConnectAsync();

        await newcomer.HeartbeatAsync();
        await newcomer.SendAsync(new { type = "auth", token = "not-checked-when-auth-is-off" });
        await newcomer.SendAsync(new { type = "capabilities_request" });
        var response = await newcomer.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        Assert.Equal("relay", Frame.From(response));
        await newcomer.SendAsync(new { type = "capabilities" });
        await newcomer.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        Assert.DoesNotContain(newcomer.Received, Frame.IsRelayError);

        await newcomer.RegisterAsync();
        await newcomer.MarkAsync(observer);
        Assert.DoesNotContain(newcomer.Received, Frame.IsRelayError);
        Assert.DoesNotContain(observer.Received, f => Frame.Sender(f) == newcomer.Id && !Frame.IsType(f, "presence") && !Frame.IsType(f, TestPeer.MarkerType));
    }
}

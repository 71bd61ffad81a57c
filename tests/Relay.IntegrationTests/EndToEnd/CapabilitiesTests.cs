using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Capabilities": answered to the sender only, never broadcast (the original broadcast it and
/// never answered).</summary>
public sealed class CapabilitiesTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Theory]
    [InlineData("""{"type":"capabilities"}""")]
    [InlineData("""{"type":"capabilities_request"}""")]
    [InlineData("""{"type":"capabilities","from":"agi","data":{"want":"everything"}}""")]
    public async Task Capabilities_is_answered_to_the_sender_only_and_never_forwarded(string request)
    {
        var a = await JoinAsync(data: new { agents = new object[] { "chat", new { name = "researcher" } } });
        var b = await JoinAsync(data: new { agents = new[] { "agi", "chat" } });
        var otherTab = await JoinAsync(b.Id);
        var outsider = await JoinAsync(data: new { agents = new[] { "outside-agent" } }, mesh: Mesh + "-other");

        var before = UnixNow();
        await b.SendAsync(request);
        var response = await b.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));

        Assert.Equal("relay", Frame.From(response));
        var data = response.GetProperty("data");
        Assert.Equal(JsonValueKind.Object, data.ValueKind);
        Assert.Equal(JsonValueKind.Array, data.GetProperty("agentCards").ValueKind);
        Assert.Empty(data.GetProperty("agentCards").EnumerateArray());
        var active = data.GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Superset(new HashSet<string> { "chat", "researcher", "agi" }, active.ToHashSet());
        Assert.DoesNotContain("outside-agent", active);
        Assert.Equal(JsonValueKind.Object, data.GetProperty("relay").ValueKind);
        if (response.TryGetProperty("timestamp", out var timestamp)) AssertUnixSeconds(timestamp, before, UnixNow());

        await FlushAsync(b, a, otherTab, outsider);
        foreach (var peer in new[] { a, otherTab, outsider })
        {
            // The only capabilities_response frames they have are the answers to their own syncs.
            Assert.DoesNotContain(peer.Received, f => Frame.Type(f) is "capabilities" or "capabilities_request");
            Assert.DoesNotContain(peer.Received, f => Frame.IsType(f, "capabilities_response") && Frame.Str(f, "to") != peer.Id);
        }
        Assert.Single(b.Received, f => Frame.IsType(f, "capabilities_response") && b.ArrivalOf(f) >= b.ArrivalOf(response));
    }

    [Fact]
    public async Task Capabilities_before_registration_is_answered()
    {
        var a = await JoinAsync(data: new { agents = new[] { "chat" } });
        var newcomer = await ConnectAsync();
        await newcomer.SendAsync(new { type = "capabilities" }); // real clients: before their first presence, without from
        var response = await newcomer.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        Assert.Contains("chat", response.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()));
        Assert.DoesNotContain(newcomer.Received, Frame.IsRelayError);
        await newcomer.RegisterAsync();
        await newcomer.MarkAsync(a);
        Assert.DoesNotContain(a.Received, f => Frame.Type(f) is "capabilities" or "capabilities_request");
        Assert.DoesNotContain(a.Received, f => Frame.IsType(f, "capabilities_response") && Frame.Str(f, "to") != a.Id);
    }
}

using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Frames" and "Sender stamp": forwarded frames carry <c>sender</c> (the sending
/// connection's peer id), a missing <c>from</c> and <c>timestamp</c> filled in, and everything else untouched.</summary>
public sealed class SenderStampTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Theory]
    [InlineData("broadcast")]
    [InlineData("stream")]
    [InlineData("launch_agent")]
    [InlineData("direct")]
    public async Task Forwarded_frame_gets_the_senders_id_and_keeps_every_client_field(string type)
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        var to = type == "direct" ? $"\"to\":\"{b.Id}\"," : "";
        var original = $$"""
            {"type":"{{type}}",{{to}}"from":"chat","sender":"forged-sender","data":{"text":"héllo \u2603 😀","n":[1,2.50,-0,1e3,{"k":null}],"empty":{},"flag":true},
             "turnId":"turn-42","instanceId":"inst-7","targetInstanceId":"somebody","agentType":"chat","custom":{"deep":[{"x":"y"}]},
             "timestamp":1764049300123}
            """;
        await a.SendAsync(original);

        var received = await b.WaitForAsync(f => Frame.IsType(f, type) && Frame.Str(f, "turnId") == "turn-42");
        Assert.Equal(a.Id, Frame.Sender(received));
        using var sent = JsonDocument.Parse(original);
        foreach (var property in sent.RootElement.EnumerateObject().Where(p => p.Name != "sender"))
        {
            Assert.True(received.TryGetProperty(property.Name, out var value), $"missing {property.Name}: {received}");
            Assert.True(JsonElement.DeepEquals(property.Value, value), $"{property.Name}: sent {property.Value}, got {value}");
        }
        var names = received.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Distinct().Count(), names.Count);
        Assert.Equal(sent.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal),
            names.Order(StringComparer.Ordinal));

        // Numbers keep their spelling: the client's millisecond timestamp and 2.50 are not re-formatted.
        var raw = b.ReceivedRaw.Single(r => r.Contains("turn-42", StringComparison.Ordinal));
        Assert.Contains("1764049300123", raw, StringComparison.Ordinal);
        Assert.Contains("2.50", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("forged-sender", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_from_and_timestamp_are_filled_with_the_senders_id_and_server_unix_seconds()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();

        var before = UnixNow();
        await a.SendAsync("""{"type":"broadcast","data":{"bare":true}}""");
        var received = await b.WaitForAsync(f => Frame.IsType(f, "broadcast"));
        var after = UnixNow();

        Assert.Equal(a.Id, Frame.From(received));
        Assert.Equal(a.Id, Frame.Sender(received));
        AssertUnixSeconds(received.GetProperty("timestamp"), before, after);
        Assert.Equal("""{"bare":true}""", received.GetProperty("data").GetRawText());
    }

    [Theory]
    [InlineData("1764049300123")]
    [InlineData("1764049300.5")]
    [InlineData("\"2025-11-25T10:00:00Z\"")]
    [InlineData("null")]
    [InlineData("0")]
    public async Task Client_timestamp_is_forwarded_untouched(string timestamp)
    {
        var a = await JoinAsync();
        var b = await JoinAsync();

        await a.SendAsync($$"""{"type":"stream","data":{"chunk":"x"},"timestamp":{{timestamp}}}""");
        var received = await b.WaitForAsync(f => Frame.IsType(f, "stream"));

        Assert.Equal(timestamp, received.GetProperty("timestamp").GetRawText());
        Assert.Single(received.EnumerateObject(), p => p.Name == "timestamp");
    }

    [Fact]
    public async Task From_naming_an_agent_of_the_sender_is_not_rewritten_but_sender_is_always_its_peer_id()
    {
        var a = await JoinAsync(data: new { agents = new[] { "chat" } });
        var b = await JoinAsync();

        await a.SendAsync(new { type = "broadcast", from = "chat", data = new { n = 1 } });
        await a.SendAsync(new { type = "broadcast", from = b.Id, sender = b.Id, data = new { n = 2 } });

        var first = await b.WaitForAsync(f => Frame.IsType(f, "broadcast"));
        Assert.Equal("chat", Frame.From(first));
        Assert.Equal(a.Id, Frame.Sender(first));
        var second = await b.WaitForAsync(f => Frame.IsType(f, "broadcast"));
        Assert.Equal(b.Id, Frame.From(second));
        Assert.Equal(a.Id, Frame.Sender(second));
    }

    [Fact]
    public async Task Announced_presence_is_stamped_like_any_forwarded_frame()
    {
        var a = await JoinAsync();
        var b = await ConnectAsync();

        var before = UnixNow();
        // Real clients' presence carries no timestamp.
        await b.SendAsync($$"""{"type":"presence","from":"{{b.Id}}","data":{"agents":["chat"],"name":"Tab"},"turnId":"p-1"}""");
        var announced = await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        var after = UnixNow();

        Assert.Equal(b.Id, Frame.Sender(announced));
        Assert.Equal("p-1", Frame.Str(announced, "turnId"));
        Assert.True(JsonElement.DeepEquals(
            JsonDocument.Parse("""{"agents":["chat"],"name":"Tab"}""").RootElement, announced.GetProperty("data")));
        AssertUnixSeconds(announced.GetProperty("timestamp"), before, after);
    }
}

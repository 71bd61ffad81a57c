using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>A relay whose error rate limit never interferes with tests that provoke many errors.</summary>
public sealed class GenerousErrorsRelay : SharedRelay
{
    protected override string[] Settings => ["Relay:ErrorsPerSecond=1000", "Relay:ErrorBurst=1000", "Relay:MaxMetadataBytes=1024"];
}

/// <summary>protocol.md "Relay errors" and "Keep sockets open": every bad frame is answered to its sender only,
/// in the documented shape, and the connection stays open and usable.</summary>
public sealed class ErrorTests(GenerousErrorsRelay shared) : EndToEndTest(shared.Relay), IClassFixture<GenerousErrorsRelay>
{
    public static TheoryData<string, string, string?> BadFrames => new()
    {
        { "this is not json", "invalid_json", null },
        { """{"type":"broadcast","data":{""", "invalid_json", null },
        { """{"type":"broadcast",}""", "invalid_json", null },
        { "[1,2,3]", "not_an_object", null },
        { "\"a string\"", "not_an_object", null },
        { "42", "not_an_object", null },
        { "null", "not_an_object", null },
        { """{"data":{},"turnId":"t-1"}""", "missing_type", "\"t-1\"" },
        { """{"type":42,"turnId":"t-2"}""", "missing_type", "\"t-2\"" },
        { """{"type":"","turnId":"t-3"}""", "missing_type", "\"t-3\"" },
        { """{"type":null,"turnId":{"id":3}}""", "missing_type", """{"id":3}""" },
        { """{"type":"broadcast","from":42,"data":{},"turnId":"t-4"}""", "invalid_field", "\"t-4\"" },
        { """{"type":"direct","to":{"peer":"x"},"data":{},"turnId":"t-5"}""", "invalid_field", "\"t-5\"" },
        { """{"type":"direct","to":"chat","targetInstanceId":7,"data":{},"turnId":99}""", "invalid_field", "99" },
        { """{"type":"direct","to":"nobody-by-that-name","data":{},"turnId":"t-6"}""", "unknown_target", "\"t-6\"" },
        { """{"type":"presence","from":"someone-else","data":{},"turnId":"t-7"}""", "id_change", "\"t-7\"" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task Bad_frame_is_answered_with_an_error_to_its_sender_only_and_the_socket_stays_open(string frame, string code, string? turnIdJson)
    {
        var observer = await JoinAsync();
        var sender = await JoinAsync();

        var before = UnixNow();
        await sender.SendAsync(frame);
        var error = await sender.WaitForAsync(Frame.IsRelayError);
        AssertErrorShape(error, code, sender.Id, before);
        if (turnIdJson is null) Assert.False(error.TryGetProperty("turnId", out _), error.ToString());
        else Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(turnIdJson).RootElement, error.GetProperty("turnId")), error.ToString());

        await AssertStillWorksAsync(sender, observer);
        Assert.DoesNotContain(observer.Received, Frame.IsRelayError);
        Assert.Single(sender.Received, Frame.IsRelayError);
    }

    [Fact]
    public async Task Binary_frame_is_answered_with_binary_frame_error_and_the_socket_stays_open()
    {
        var observer = await JoinAsync();
        var sender = await JoinAsync();
        var before = UnixNow();
        await sender.SendBinaryAsync(Encoding.UTF8.GetBytes("""{"type":"broadcast","data":{"binary":true}}"""));
        var error = await sender.WaitForAsync(Frame.IsRelayError);
        AssertErrorShape(error, "binary_frame", sender.Id, before);
        await AssertStillWorksAsync(sender, observer);
        Assert.DoesNotContain(observer.Received, f => Frame.Data(f) is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("binary", out _));
        Assert.Equal(0, observer.BinaryFramesReceived);
    }

    [Fact]
    public async Task Error_before_registration_has_no_to()
    {
        var sender = await ConnectAsync();
        await sender.SendAsync("{not json");
        var error = await sender.WaitForAsync(Frame.IsRelayError);
        Assert.Equal("invalid_json", Frame.DataStr(error, "code"));
        Assert.True(!error.TryGetProperty("to", out var to) || to.ValueKind == JsonValueKind.Null, error.ToString());
        await sender.RegisterAsync();
        Assert.Equal(WebSocketState.Open, sender.State);
    }

    [Fact]
    public async Task Every_kind_of_error_in_a_row_leaves_the_socket_open()
    {
        var observer = await JoinAsync();
        var sender = await JoinAsync();
        foreach (var row in BadFrames) await sender.SendAsync((string)row[0]);
        await sender.SendBinaryAsync([1, 2, 3]);
        await sender.SendAsync(new { type = "presence", from = "relay", data = new { } });
        await sender.SendAsync(new { type = "presence", from = sender.Id, data = new { big = new string('x', 2000) } });

        var errors = await sender.WaitForCountAsync(Frame.IsRelayError, BadFrames.Count + 3);
        var codes = errors.Select(e => Frame.DataStr(e, "code")!).ToList();
        Assert.Equal([.. BadFrames.Select(row => (string)row[1]!), "binary_frame"], codes.Take(BadFrames.Count + 1));
        Assert.Contains(codes[^2], new[] { "reserved_id", "id_change" }); // "relay" from a connection bound to another id
        Assert.Equal("metadata_too_large", codes[^1]);
        await AssertStillWorksAsync(sender, observer);
    }

    [Fact]
    public async Task Presence_metadata_larger_than_the_limit_is_refused_with_metadata_too_large()
    {
        var observer = await JoinAsync();
        var sender = await ConnectAsync();
        await sender.SendAsync(new { type = "presence", from = sender.Id, data = new { big = new string('x', 2000) }, turnId = "big" });
        var error = await sender.WaitForAsync(Frame.IsRelayError);
        Assert.Equal("metadata_too_large", Frame.DataStr(error, "code"));
        Assert.Equal("big", Frame.Str(error, "turnId"));

        await sender.RegisterAsync(new { small = true });
        var presence = await observer.WaitForAsync(f => Frame.IsPresenceOf(f, sender.Id));
        Assert.True(presence.GetProperty("data").GetProperty("small").GetBoolean());
        Assert.Single(observer.Received, f => Frame.IsPresenceOf(f, sender.Id));

        // A registered peer's oversized update is refused too; its metadata stays as it was.
        await sender.SendAsync(new { type = "presence", from = sender.Id, data = new { big = new string('y', 2000) } });
        await sender.WaitForAsync(f => Frame.IsError(f, "metadata_too_large"));
        await sender.MarkAsync(observer);
        Assert.Single(observer.Received, f => Frame.IsPresenceOf(f, sender.Id));
        var newcomer = await ConnectAsync();
        var entry = (await newcomer.RegisterAsync()).Single(f => Frame.From(f) == sender.Id);
        Assert.True(entry.GetProperty("data").GetProperty("small").GetBoolean());
    }

    private static void AssertErrorShape(JsonElement error, string code, string peerId, double before)
    {
        Assert.Equal("error", Frame.Type(error));
        Assert.Equal("relay", Frame.From(error));
        Assert.Equal(peerId, Frame.Str(error, "to"));
        Assert.Equal(code, Frame.DataStr(error, "code"));
        Assert.False(string.IsNullOrWhiteSpace(Frame.DataStr(error, "error")), error.ToString());
        AssertUnixSeconds(error.GetProperty("timestamp"), before, UnixNow());
    }

    private static async Task AssertStillWorksAsync(TestPeer sender, TestPeer observer)
    {
        Assert.Equal(WebSocketState.Open, sender.State);
        await sender.MarkAsync(observer);
        await observer.DirectMarkAsync(sender);
        await sender.SyncAsync();
        Assert.Equal(WebSocketState.Open, sender.State);
        Assert.False(sender.HasEnded);
    }
}

/// <summary>protocol.md "Relay errors": errors to one connection are themselves rate limited, then summarised.</summary>
public sealed class ErrorRateLimitTests : EndToEndTest
{
    [Fact]
    public async Task Errors_beyond_the_error_burst_are_withheld_and_summarised_with_their_count()
    {
        await StartRelayAsync("Relay:ErrorsPerSecond=1", "Relay:ErrorBurst=3");
        var observer = await JoinAsync();
        var flooder = await JoinAsync();
        const int Bad = 20;
        for (var i = 0; i < Bad; i++) await flooder.SendAsync("not json " + i);

        var summary = await flooder.WaitForAsync(f => Frame.IsError(f, "errors_suppressed"));
        Assert.True(Frame.DataCount(summary) > 0, summary.ToString());
        Assert.Equal(flooder.Id, Frame.Str(summary, "to"));
        Assert.Equal("relay", Frame.From(summary));

        // Every bad frame is accounted for: answered individually or counted in a summary.
        await WaitUntilAsync(() =>
            flooder.Count(f => Frame.IsError(f, "invalid_json")) + flooder.All(f => Frame.IsError(f, "errors_suppressed")).Sum(f => Frame.DataCount(f) ?? 0) == Bad,
            flooder);
        var answered = flooder.Count(f => Frame.IsError(f, "invalid_json"));
        Assert.InRange(answered, 3, 5); // the burst, plus at most a token or two refilled while flooding
        var firstSummary = flooder.Received.ToList().FindIndex(f => Frame.IsError(f, "errors_suppressed"));
        Assert.True(flooder.Received.Take(firstSummary).Count(f => Frame.IsError(f, "invalid_json")) >= 3);

        // The socket stays open, frames still flow, and another connection's errors are not affected.
        Assert.Equal(WebSocketState.Open, flooder.State);
        await flooder.MarkAsync(observer);
        await observer.SendAsync("also not json");
        await observer.WaitForAsync(f => Frame.IsError(f, "invalid_json"));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TestPeer peer)
    {
        var deadline = DateTime.UtcNow + TestPeer.DefaultTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met.\n" + peer.Dump());
            await Task.Delay(20);
        }
    }
}

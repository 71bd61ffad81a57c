using System.Net.WebSockets;
using System.Text;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Limits": maximum frame size (1009) and the per-connection rate limit.</summary>
public sealed class LimitsTests : EndToEndTest
{
    private static string FrameOfExactly(int bytes, string marker)
    {
        var head = "{\"type\":\"broadcast\",\"data\":{\"marker\":\"" + marker + "\",\"pad\":\"";
        const string Tail = "\"}}";
        var frame = head + new string('x', bytes - head.Length - Tail.Length) + Tail;
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(frame));
        return frame;
    }

    [Fact]
    public async Task Frame_larger_than_the_limit_closes_its_connection_with_1009_and_nobody_else_is_affected()
    {
        await StartRelayAsync("Relay:MaxFrameBytes=4096");
        var big = await JoinAsync();
        var b = await JoinAsync();
        var c = await JoinAsync();

        // Exactly at the limit is fine.
        await big.SendAsync(FrameOfExactly(4096, "at-limit"));
        await b.WaitForAsync(f => Frame.MarkerOf(f) == "at-limit");
        await c.WaitForAsync(f => Frame.MarkerOf(f) == "at-limit");

        await big.SendAsync(FrameOfExactly(4097, "over-limit"));
        var status = await big.WaitForCloseAsync(TestPeer.DefaultTimeout);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);

        await b.WaitForAsync(f => Frame.IsOfflineOf(f, big.Id));
        await c.WaitForAsync(f => Frame.IsOfflineOf(f, big.Id));
        Assert.DoesNotContain(b.Received, f => Frame.MarkerOf(f) == "over-limit");
        await b.MarkAsync(c);
        await c.MarkAsync(b);
        await b.SendAsync(FrameOfExactly(4096, "b-at-limit"));
        await c.WaitForAsync(f => Frame.MarkerOf(f) == "b-at-limit");
        Assert.Equal(WebSocketState.Open, b.State);
        Assert.Equal(WebSocketState.Open, c.State);
    }

    [Fact]
    public async Task Flood_beyond_the_burst_is_dropped_with_rate_limited_errors_and_the_socket_stays_open()
    {
        await StartRelayAsync("Relay:RateLimitPerSecond=10", "Relay:RateLimitBurst=20");
        var observer = await JoinAsync();
        var flooder = await ConnectAsync();
        await flooder.RegisterAsync(); // presence + capabilities: two of the burst's tokens

        const int Sent = 100;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var seq = 0; seq < Sent; seq++) await flooder.SendAsync(new { type = "stream", data = new { seq } });
        var floodSeconds = watch.Elapsed.TotalSeconds;

        // Errors are rate limited too: a few rate_limited, then a summary; together they account for every drop.
        var summary = await flooder.WaitForAsync(f => Frame.IsError(f, "errors_suppressed"));
        Assert.True(Frame.DataCount(summary) > 0);
        var rateLimited = flooder.All(f => Frame.IsError(f, "rate_limited"));
        Assert.NotEmpty(rateLimited);
        Assert.Equal(flooder.Id, Frame.Str(rateLimited[0], "to"));

        // After the flood, tokens come back: a marker gets through, proving the socket is open and
        // that every frame the relay accepted from the flood has arrived.
        await flooder.MarkAsync(observer);
        var delivered = observer.All(f => Frame.IsType(f, "stream")).Select(f => Frame.Seq(f)!.Value).ToList();
        Assert.Equal(Enumerable.Range(0, 18).Select(i => (long)i), delivered.Take(18)); // within the burst: all delivered
        Assert.True(delivered.SequenceEqual(delivered.Order()), "in order");
        Assert.InRange(delivered.Count, 18, 18 + (int)Math.Ceiling(floodSeconds * 10) + 1);
        Assert.True(delivered.Count < Sent);
        Assert.Equal(WebSocketState.Open, flooder.State);
        Assert.False(flooder.HasEnded);
    }

    [Fact]
    public async Task Rate_limited_error_carries_the_turnId_of_the_dropped_frame()
    {
        // protocol.md "Relay errors": every error copies the offending frame's turnId, rate limit included.
        await StartRelayAsync("Relay:RateLimitPerSecond=1", "Relay:RateLimitBurst=3", "Relay:ErrorsPerSecond=100", "Relay:ErrorBurst=100");
        var flooder = await ConnectAsync();
        await flooder.RegisterAsync(); // two of the three tokens
        await flooder.SendAsync(new { type = "stream", data = new { seq = 0 }, turnId = "allowed" });
        for (var seq = 1; seq <= 5; seq++) await flooder.SendAsync(new { type = "stream", data = new { seq }, turnId = $"turn-{seq}" });
        var error = await flooder.WaitForAsync(f => Frame.IsError(f, "rate_limited"));
        Assert.Contains(Frame.Str(error, "turnId"), new[] { "turn-1", "turn-2", "turn-3", "turn-4", "turn-5" });
    }

    [Fact]
    public async Task Default_limits_let_a_streaming_burst_through()
    {
        await StartRelayAsync();
        var observer = await JoinAsync();
        var streamer = await JoinAsync();

        // Streaming model output: hundreds of stream frames at once.
        const int Frames = 900;
        for (var seq = 0; seq < Frames; seq++) await streamer.SendAsync(new { type = "stream", data = new { seq, chunk = "token " } });
        var received = await observer.WaitForCountAsync(f => Frame.IsType(f, "stream"), Frames);
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), received.Select(f => Frame.Seq(f)!.Value));
        await streamer.SyncAsync();
        Assert.DoesNotContain(streamer.Received, Frame.IsRelayError);
    }
}

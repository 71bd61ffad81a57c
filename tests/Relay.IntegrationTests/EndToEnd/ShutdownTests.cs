using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Keep sockets open" (the node shutting down closes with 1012) and "Endpoints" (/ping says
/// HealthyBusy while draining).</summary>
public sealed class ShutdownTests : EndToEndTest
{
    [Fact]
    public async Task Shutdown_delivers_what_was_queued_then_closes_every_socket_with_1012()
    {
        await StartRelayAsync();
        var sender = await JoinAsync();
        var receiver = await JoinAsync();
        const int Frames = 300;
        for (var seq = 0; seq < Frames; seq++) await sender.SendAsync(new { type = "stream", data = new { seq } });
        await sender.SyncAsync(); // all handled, so all queued for the receiver

        await StopRelayAsync();
        Assert.Equal((WebSocketCloseStatus)1012, await receiver.WaitForCloseAsync(TestPeer.DefaultTimeout));
        Assert.Equal((WebSocketCloseStatus)1012, await sender.WaitForCloseAsync(TestPeer.DefaultTimeout));
        var seqs = receiver.All(f => Frame.IsType(f, "stream")).Select(f => Frame.Seq(f)!.Value);
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task Shutdown_spreads_the_closes_over_the_drain_window_each_after_what_was_queued_for_it()
    {
        var window = TimeSpan.FromSeconds(4);
        await StartRelayAsync("Relay:DrainWindow=00:00:04");
        var sender = await JoinAsync();
        var receivers = new List<TestPeer>();
        for (var i = 0; i < 4; i++) receivers.Add(await JoinAsync());
        const int Frames = 200;
        for (var seq = 0; seq < Frames; seq++) await sender.SendAsync(new { type = "stream", data = new { seq } });
        await sender.SyncAsync(); // all handled, so all queued for every receiver

        var clock = Stopwatch.StartNew();
        var stopping = StopRelayAsync();
        var closes = await Task.WhenAll(receivers.Prepend(sender).Select(async peer =>
            (Status: await peer.WaitForCloseAsync(TimeSpan.FromSeconds(30)), At: clock.Elapsed)));
        await stopping;

        Assert.All(closes, close => Assert.Equal((WebSocketCloseStatus)1012, close.Status));
        foreach (var receiver in receivers)
        {
            Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), receiver.All(f => Frame.IsType(f, "stream")).Select(f => Frame.Seq(f)!.Value));
        }
        // Five connections over 4 s are due at 0, 0.8, 1.6, 2.4 and 3.2 s: spread, not at once, and within the window
        // (plus generous slack for a loaded machine).
        var times = closes.Select(c => c.At).Order().ToArray();
        var spread = times[^1] - times[0];
        Assert.True(spread >= TimeSpan.FromSeconds(2), $"closes spread over {spread.TotalSeconds:F1} s only: {string.Join(", ", times.Select(t => t.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(times[^1] < window + TimeSpan.FromSeconds(6), $"last close after {times[^1].TotalSeconds:F1} s");
        Assert.True(times[1] - times[0] >= TimeSpan.FromSeconds(0.3), "the first two closes were not spread");
    }

    [Fact]
    public async Task Upgrades_while_draining_get_503_with_Retry_After()
    {
        var (http, stopping) = await BeginLastingDrainAsync();
        using var _ = http;
        var refused = await RefusedUpgrade.AttemptAsync(MeshUri());
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("10", refused.RetryAfter);
        await stopping;
    }

    [Fact]
    public async Task Ping_says_HealthyBusy_while_draining()
    {
        var (http, stopping) = await BeginLastingDrainAsync();
        using var _ = http;
        using var response = await http.GetAsync(new Uri("ping", UriKind.Relative));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("HealthyBusy", body.RootElement.GetProperty("status").GetString());
        await stopping;
    }
}

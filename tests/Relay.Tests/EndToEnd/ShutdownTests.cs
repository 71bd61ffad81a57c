using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.EndToEnd;

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

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A bystander's latency: two registered clients, "ping" and "pong", and the time a <c>direct</c> takes from ping to
/// pong (addressed to an agent pong lists, as real clients address) and back (addressed to ping's peer id).
/// </summary>
internal sealed class DirectRoundTrips : IAsyncDisposable
{
    private static readonly TimeSpan RoundTripTimeout = TimeSpan.FromSeconds(10);
    private readonly RawSocket _ping;
    private readonly RawSocket _pong;
    private readonly string _pingId;
    private readonly string _pongAgent;
    private int _next;

    private DirectRoundTrips(RawSocket ping, RawSocket pong, string pingId, string pongAgent)
    {
        _ping = ping;
        _pong = pong;
        _pingId = pingId;
        _pongAgent = pongAgent;
    }

    public static async Task<DirectRoundTrips> ConnectAsync(Uri uri)
    {
        var pingId = TestPeer.NewId("ping");
        var pongId = TestPeer.NewId("pong");
        var pongAgent = "agent-" + pongId;
        var ping = await RawSocket.ConnectAsync(uri);
        var pong = await RawSocket.ConnectAsync(uri);
        await RegisterAsync(ping, pingId, []);
        await RegisterAsync(pong, pongId, [pongAgent]);
        return new DirectRoundTrips(ping, pong, pingId, pongAgent);
    }

    /// <summary>Measures <paramref name="count"/> round trips one after the other, <paramref name="pause"/> apart (so
    /// that they sample a load over a while rather than one moment of it).</summary>
    public async Task<TimeSpan[]> MeasureAsync(int count, TimeSpan pause = default)
    {
        var times = new TimeSpan[count];
        using var timeout = new CancellationTokenSource(RoundTripTimeout * count);
        for (var i = 0; i < count; i++)
        {
            var seq = (++_next).ToString(CultureInfo.InvariantCulture);
            string[] expected = ["\"type\":\"direct\"", $"\"seq\":{seq}}}"];
            var watch = Stopwatch.StartNew();
            await _ping.SendAsync($"{{\"type\":\"direct\",\"to\":{JsonSerializer.Serialize(_pongAgent)},\"data\":{{\"seq\":{seq}}}}}");
            await _pong.ReadUntilAsync(expected, timeout.Token);
            await _pong.SendAsync($"{{\"type\":\"direct\",\"to\":{JsonSerializer.Serialize(_pingId)},\"data\":{{\"seq\":{seq}}}}}");
            await _ping.ReadUntilAsync(expected, timeout.Token);
            times[i] = watch.Elapsed;
            if (pause > TimeSpan.Zero) await Task.Delay(pause); // pacing the probe, not synchronising
        }
        return times;
    }

    /// <summary>The 99th percentile of <paramref name="times"/> (nearest rank).</summary>
    public static TimeSpan P99(TimeSpan[] times)
    {
        var sorted = times.Order().ToArray();
        return sorted[(int)Math.Ceiling(sorted.Length * 0.99) - 1];
    }

    private static async Task RegisterAsync(RawSocket socket, string peerId, string[] agents)
    {
        await socket.SendAsync(JsonSerializer.Serialize(new { type = "presence", from = peerId, data = new { agents } }));
        await socket.SendAsync("{\"type\":\"capabilities\"}");
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        await socket.ReadUntilAsync(["\"capabilities_response\""], timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _ping.DisposeAsync();
        await _pong.DisposeAsync();
    }
}

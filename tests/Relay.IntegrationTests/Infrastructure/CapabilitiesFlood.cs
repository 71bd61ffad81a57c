using System.Globalization;
using System.Text.Json;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The amplification attack of issue #17 item 4: a peer whose presence lists thousands of agents (within the metadata
/// limit) and then sends <c>capabilities</c> at a steady rate near the frame rate limit, reading and discarding every
/// answer, until disposed.
/// </summary>
internal sealed class CapabilitiesFlood : IAsyncDisposable
{
    private readonly RawSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sending;
    private readonly Task _reading;
    private long _answers;

    private CapabilitiesFlood(RawSocket socket, double framesPerSecond)
    {
        _socket = socket;
        _reading = Task.Run(ReadAsync);
        _sending = Task.Run(() => SendAsync(framesPerSecond));
    }

    /// <summary>Frames the relay sent this client so far (capabilities answers, and whatever else).</summary>
    public long Answers => Interlocked.Read(ref _answers);

    /// <param name="agentPrefix">Two characters that make this flood's agent names its own.</param>
    public static async Task<CapabilitiesFlood> StartAsync(Uri uri, string peerId, string agentPrefix, int agents, double framesPerSecond)
    {
        var socket = await RawSocket.ConnectAsync(uri);
        // Short names (6 characters), so that as many as the 6,789 fit the 64 KiB metadata limit.
        var names = Enumerable.Range(0, agents).Select(i => agentPrefix + i.ToString("x4", CultureInfo.InvariantCulture)).ToArray();
        await socket.SendAsync(JsonSerializer.Serialize(new { type = "presence", from = peerId, data = new { agents = names } }));
        return new CapabilitiesFlood(socket, framesPerSecond);
    }

    private async Task SendAsync(double framesPerSecond)
    {
        const string Capabilities = "{\"type\":\"capabilities\"}";
        var interval = TimeSpan.FromMilliseconds(10);
        var perTick = Math.Max(1, (int)Math.Round(framesPerSecond * interval.TotalSeconds));
        using var timer = new PeriodicTimer(interval); // pacing the load, not synchronising
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                for (var i = 0; i < perTick; i++) await _socket.SendAsync(Capabilities);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // stopped, or the socket went away
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            while (true)
            {
                await _socket.SkipAsync(_stop.Token);
                Interlocked.Increment(ref _answers);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // stopped, or the socket went away
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sending;
        await _socket.DisposeAsync();
        await _reading;
        _stop.Dispose();
    }
}

using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Xunit;

namespace Relay.Tests.Auth;

/// <summary>
/// A minimal relay client for the auth tests: a <see cref="ClientWebSocket"/> with a background reader that queues
/// every text frame, and remembers how the relay closed the socket. Every wait is bounded.
/// </summary>
public sealed class AuthClient : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly Task _reader;
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AuthClient(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadAsync);
    }

    public WebSocketState State => _socket.State;

    /// <summary>Opens a socket; <paramref name="bearer"/> goes into an <c>Authorization: Bearer</c> header. Throws
    /// when the relay refuses the upgrade (see <see cref="TryConnectAsync"/>).</summary>
    public static async Task<AuthClient> ConnectAsync(Uri uri, string? bearer = null)
    {
        var (client, status, _) = await TryConnectAsync(uri, bearer);
        Assert.True(client is not null, $"upgrade refused with HTTP {(int?)status}");
        return client!;
    }

    /// <summary>Opens a socket, or returns the HTTP status and <c>WWW-Authenticate</c> of a refused upgrade.</summary>
    public static async Task<(AuthClient? Client, HttpStatusCode? Status, string? WwwAuthenticate)> TryConnectAsync(Uri uri, string? bearer = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (bearer is not null) socket.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        using var timeout = new CancellationTokenSource(Wait);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
            return (new AuthClient(socket), HttpStatusCode.SwitchingProtocols, null);
        }
        catch (WebSocketException)
        {
            var status = socket.HttpStatusCode;
            string? challenge = socket.HttpResponseHeaders is { } headers && headers.TryGetValue("WWW-Authenticate", out var values)
                ? string.Join(", ", values) : null;
            socket.Dispose();
            return (null, status, challenge);
        }
    }

    public Task SendAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    public async Task SendTextAsync(string json)
    {
        using var timeout = new CancellationTokenSource(Wait);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, timeout.Token);
    }

    /// <summary>Sends <c>{"type":"auth","token":...}</c>.</summary>
    public Task AuthAsync(string token) => SendAsync(new { type = "auth", token });

    /// <summary>Sends a presence and waits until the relay handled it (a capabilities round trip after it: one
    /// sender's frames are handled in order). Returns any relay error that came back for the presence.</summary>
    public async Task<JsonElement?> PresenceAsync(string peerId, object? data = null)
    {
        await SendAsync(new { type = "presence", from = peerId, data = data ?? new { name = peerId } });
        await SendAsync(new { type = "capabilities" });
        JsonElement? error = null;
        while (true)
        {
            var frame = await ReceiveAsync();
            if (Type(frame) == "capabilities_response") return error;
            if (Type(frame) == "error") error = frame;
        }
    }

    /// <summary>A round trip with the relay: everything it sent this client before is queued by then.</summary>
    public async Task BarrierAsync()
    {
        await SendAsync(new { type = "capabilities" });
        await WaitForAsync(f => Type(f) == "capabilities_response");
    }

    public async Task<JsonElement> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(Wait);
        try
        {
            return await _frames.Reader.ReadAsync(timeout.Token);
        }
        catch (ChannelClosedException)
        {
            var (status, reason) = await _closed.Task;
            throw new InvalidOperationException($"the relay closed the socket ({(int?)status} {reason}) instead of sending a frame");
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame within {Wait.TotalSeconds} s");
        }
    }

    /// <summary>The next frame that matches, skipping others.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            if (match(frame)) return frame;
        }
    }

    /// <summary>Frames already received (no waiting).</summary>
    public List<JsonElement> Drain()
    {
        var frames = new List<JsonElement>();
        while (_frames.Reader.TryRead(out var frame)) frames.Add(frame);
        return frames;
    }

    /// <summary>Waits until the relay closes the socket; frames before the close are skipped.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Reason)> ClosedAsync() => await _closed.Task.WaitAsync(Wait);

    public static string? Type(JsonElement frame) => frame.TryGetProperty("type", out var type) ? type.GetString() : null;

    public static string? ErrorCode(JsonElement frame) =>
        Type(frame) == "error" && frame.TryGetProperty("data", out var data) && data.TryGetProperty("code", out var code) ? code.GetString() : null;

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((_socket.CloseStatus, _socket.CloseStatusDescription));
                    try
                    {
                        using var timeout = new CancellationTokenSource(Wait);
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                    }
                    catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
                    {
                    }
                    return;
                }
                using var document = JsonDocument.Parse(message.ToArray());
                _frames.Writer.TryWrite(document.RootElement.Clone());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            _closed.TrySetResult((null, "transport ended: " + ex.Message));
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }
}

using System.Net.WebSockets;
using System.Text;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A bare client socket for load and latency: it sends text and reads whole messages without parsing or
/// keeping them (<see cref="TestPeer"/> parses and keeps every frame, which is the cost a latency probe must not
/// add, and which a flood of answers would make large).</summary>
internal sealed class RawSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte[] _buffer = new byte[16 * 1024];

    private RawSocket(ClientWebSocket socket) => _socket = socket;

    public static async Task<RawSocket> ConnectAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawSocket(socket);
    }

    public async Task SendAsync(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads whole messages until one contains every one of <paramref name="parts"/>, and returns it (bounded
    /// by <paramref name="cancellationToken"/>).</summary>
    public async Task<string> ReadUntilAsync(string[] parts, CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = await ReadAsync(cancellationToken);
            if (Array.TrueForAll(parts, p => message.Contains(p, StringComparison.Ordinal))) return message;
        }
    }

    /// <summary>Reads one whole message and forgets it; returns its length. Throws once the socket closed.</summary>
    public async Task<int> SkipAsync(CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close) throw new WebSocketException("closed by the relay");
            length += result.Count;
            if (result.EndOfMessage) return length;
        }
    }

    private async Task<string> ReadAsync(CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            var result = await _socket.ReceiveAsync(_buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close) throw new WebSocketException("closed by the relay");
            length += result.Count;
            if (result.EndOfMessage) return Encoding.UTF8.GetString(_buffer, 0, length);
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        _sendLock.Dispose();
        return ValueTask.CompletedTask;
    }
}

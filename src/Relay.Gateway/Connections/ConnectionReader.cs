using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// The reader side of one connection: receives each frame whole and hands text frames to its
/// <see cref="IFrameHandler"/>, one after the other, which is what keeps every receiver's view of this sender in
/// order. A frame larger than <c>MaxFrameBytes</c> closes the connection (1009); a binary frame is answered with an
/// error.
/// </summary>
internal sealed class ConnectionReader(
    RelayConnection connection,
    WebSocket socket,
    int maxFrameBytes,
    IFrameHandler handler,
    ErrorReplies errors,
    RelayMetrics metrics,
    TimeProvider time)
{
    /// <summary>The receive buffer rented for each frame: enough for usual frames; a larger frame borrows a bigger one.
    /// Nothing is held between frames: an idle connection waits with a zero-byte read.</summary>
    private const int ReceiveBufferBytes = 4096;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        try
        {
            while (!connection.IsClosing)
            {
                // Waits for the next frame without a buffer (ManagedWebSocket reads the frame header into its own
                // small buffer and returns no payload): thousands of idle connections then hold no receive buffer
                // at all. The buffer is rented from the shared pool once a frame is there and given back after it.
                var result = await socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close) return;
                buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
                var length = 0;
                while (!result.EndOfMessage && length <= maxFrameBytes)
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxFrameBytes + 1));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                    length += result.Count;
                    if (result.MessageType == WebSocketMessageType.Close) return;
                }

                if (length > maxFrameBytes)
                {
                    metrics.Disconnected("oversize");
                    connection.RequestClose(CloseCodes.MessageTooBig,
                        string.Create(CultureInfo.InvariantCulture, $"frame larger than {maxFrameBytes} bytes"));
                    return;
                }
                metrics.FrameReceived(length);
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    connection.Touch(time.GetTimestamp());
                    errors.Send(connection, ErrorCodes.BinaryFrame, "binary frames are not supported; send UTF-8 JSON text frames", default);
                }
                else
                {
                    await handler.HandleAsync(buffer.AsMemory(0, length), cancellationToken);
                }
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The transport ended (peer gone, keep-alive timeout, abort, shutdown): a normal way for a session to end.
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

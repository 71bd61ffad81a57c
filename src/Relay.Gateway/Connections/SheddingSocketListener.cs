using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Diagnostics;

namespace Relay.Gateway.Connections;

/// <summary>
/// Kestrel's socket listener with an accept loop that survives the process running out of file descriptors. Kestrel's
/// own loop retries a failed accept at once, and a process at its open-file limit fails every accept at once (the
/// connection stays in the backlog): it spun at a core, throwing thousands of exceptions a second, each of which made
/// the runtime try to load files it could not open, and the process died of it within a minute ("Out of memory.",
/// "Internal CLR error"). Here, the first such failure releases the <see cref="DescriptorReserve"/> (room for the
/// runtime) and sheds: waiting connections are accepted only to be answered HTTP 503 with Retry-After and closed (a few
/// at a time), and an accept that fails even so waits (10 ms, doubling up to 1 s) before the next. Once the reserve can be filled
/// again, connections are handed to Kestrel as before. Connections themselves are Kestrel's
/// (<see cref="SocketConnectionContextFactory"/>).
/// </summary>
internal sealed partial class SheddingSocketListener : IConnectionListener
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RequestWait = TimeSpan.FromSeconds(1);

    private readonly SocketTransportOptions _options;
    private readonly SocketConnectionContextFactory _connections;
    private readonly DescriptorReserve _reserve = new();
    private readonly byte[] _refusal;
    private readonly RelayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Socket? _socket;
    private bool _shedding;
    private long _shed;
    private readonly SemaphoreSlim _answering = new(16);
    private TimeSpan _pause = FirstPause;

    public SheddingSocketListener(EndPoint endpoint, SocketTransportOptions options, byte[] refusal, RelayMetrics metrics, TimeProvider time, ILogger logger)
    {
        EndPoint = endpoint;
        _options = options;
        _refusal = refusal;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _connections = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions
        {
            IOQueueCount = options.IOQueueCount,
            WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
            MaxReadBufferSize = options.MaxReadBufferSize,
            MaxWriteBufferSize = options.MaxWriteBufferSize,
            UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling,
        }, logger);
    }

    public EndPoint EndPoint { get; private set; }

    public void Bind()
    {
        Socket socket;
        try
        {
            socket = _options.CreateBoundListenSocket(EndPoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(e.Message, e);
        }
        EndPoint = socket.LocalEndPoint!; // the port a ":0" endpoint was given
        socket.Listen(_options.Backlog);
        _socket = socket;
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket!.AcceptAsync(cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                await OutOfDescriptorsAsync(cancellationToken);
                continue;
            }
            catch (SocketException e) when (e.SocketErrorCode != SocketError.OperationAborted)
            {
                continue; // reset while it waited in the backlog, as Kestrel does
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return null; // unbound: Kestrel stops accepting
            }

            if (_shedding && !StopShedding())
            {
                await ShedAsync(accepted, cancellationToken);
                continue;
            }
            if (accepted.LocalEndPoint is IPEndPoint) accepted.NoDelay = _options.NoDelay;
            return _connections.Create(accepted);
        }
    }

    private async Task OutOfDescriptorsAsync(CancellationToken cancellationToken)
    {
        if (!_shedding)
        {
            _shedding = true;
            _reserve.Release();
            Log.OutOfDescriptors(_logger);
            return; // the released descriptors let the next accepts take what waits, to refuse it
        }
        // Even the reserve is in use: wait for descriptors to come back instead of asking again at once.
        await Task.Delay(_pause, _time, cancellationToken);
        _pause = TimeSpan.FromTicks(Math.Min(_pause.Ticks * 2, LongestPause.Ticks));
    }

    private bool StopShedding()
    {
        if (!_reserve.TryRefill()) return false;
        _shedding = false;
        _pause = FirstPause;
        Log.Recovered(_logger, _shed);
        _shed = 0;
        return true;
    }

    /// <summary>Refuses a connection this process has no descriptor to spare for: answers it HTTP 503 in the background,
    /// a few at a time, so that shedding holds few descriptors and clients that send nothing hold up the others little
    /// (the next accept waits for a free place).</summary>
    private async Task ShedAsync(Socket socket, CancellationToken cancellationToken)
    {
        _shed++;
        _metrics.Refused("fd_limit");
        try
        {
            await _answering.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            return;
        }
        _ = AnswerAsync(socket, cancellationToken);
    }

    /// <summary>Reads the client's request first (closing with unread bytes would reset the connection before the client
    /// reads the answer), then sends the 503 and closes. A client on a loaded machine can take tens of milliseconds to
    /// send its request after the connection is accepted, so the wait is a second; one that sends nothing in that time
    /// is answered all the same.</summary>
    private async Task AnswerAsync(Socket socket, CancellationToken cancellationToken)
    {
        var request = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                wait.CancelAfter(RequestWait);
                try
                {
                    await socket.ReceiveAsync(request, SocketFlags.None, wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // nothing sent in time: answer anyway
                }
            }
            socket.Send(_refusal, SocketFlags.None, out _);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // the client is gone, sent nothing in time, or the listener stops
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request);
            socket.Dispose();
            _answering.Release();
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket?.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _socket?.Dispose();
        _connections.Dispose();
        _reserve.Dispose();
        _answering.Dispose();
        return default;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1035, Level = LogLevel.Warning, Message = "This process is out of file descriptors: new connections are refused with 503 until some close (connections already open are unaffected)")]
        public static partial void OutOfDescriptors(ILogger logger);

        [LoggerMessage(EventId = 1036, Level = LogLevel.Information, Message = "File descriptors are available again: accepting connections ({Refused} refused meanwhile)")]
        public static partial void Recovered(ILogger logger, long refused);
    }
}

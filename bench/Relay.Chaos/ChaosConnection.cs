using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Relay.Chaos;

/// <summary>What a connection sends: its presence, or a frame checked for delivery.</summary>
internal enum OutKind
{
    Presence,
    Direct,
    Broadcast,
    Stream,
}

/// <summary>A frame this connection handed to its socket: <see cref="Seq"/> counts per connection, so per-sender
/// order is per socket. <see cref="Target"/>: for a direct, the connection it was meant for.</summary>
internal readonly record struct SentFrame(int Seq, double At, OutKind Kind, ChaosConnection? Target);

/// <summary>What a receiver saw of one sender connection.</summary>
internal sealed class SenderTrack
{
    public HashSet<int> Seqs { get; } = [];
    public int Last { get; set; } = -1;
    public int Duplicates { get; set; }
    public int Reorders { get; set; }
}

/// <summary>An error frame from the relay: its code, <c>data.count</c> and the offending frame's <c>turnId</c>.</summary>
internal readonly record struct RelayErrorSeen(double At, string Code, long Count, string? TurnId);

/// <summary>A presence this connection received: <paramref name="Offline"/> when it announced a departure.</summary>
internal readonly record struct PresenceSeen(double At, string PeerId, bool Offline);

/// <summary>
/// One WebSocket of one peer, from open to close, and everything it sent and received. Its receive loop is the only
/// writer of what it received, its send loop the only writer of what it sent; the checker reads both once the run has
/// stopped.
/// </summary>
internal sealed class ChaosConnection : IDisposable
{
    private static int _lastKey;
    private static volatile bool _frozen;
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<(OutKind Kind, ChaosConnection? Target)> _out =
        Channel.CreateUnbounded<(OutKind, ChaosConnection?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _run;
    private readonly string _presence;

    public ChaosConnection(MeshSlot slot, string peerId, Uri url, string run)
    {
        Slot = slot;
        PeerId = peerId;
        Url = url;
        _run = run;
        _presence = $$$"""{"type":"presence","from":"{{{peerId}}}","data":{"status":"online","agents":["planner","coder"],"hostname":"chaos-{{{slot.Mesh}}}-{{{slot.Index}}}","role":"chaos"}}""";
    }

    /// <summary>Unique over the run; the frames carry it, so a receiver knows which socket sent what.</summary>
    public int Key { get; } = Interlocked.Increment(ref _lastKey);
    public MeshSlot Slot { get; }
    public string PeerId { get; }
    public Uri Url { get; }
    public double OpenedAt { get; private set; } = double.NaN;
    public double ClosedAt { get; private set; } = double.PositiveInfinity;
    public string? CloseReason { get; private set; }
    public double LastSentAt { get; private set; } = double.NaN;
    public bool IsOpen => !double.IsNaN(OpenedAt) && double.IsPositiveInfinity(ClosedAt);
    public List<SentFrame> Sent { get; } = [];
    public Dictionary<int, SenderTrack> Received { get; } = [];
    public List<RelayErrorSeen> Errors { get; } = [];
    public List<PresenceSeen> Presences { get; } = [];

    public async Task OpenAsync(Action<ChaosConnection> onLost, CancellationToken cancellation)
    {
        _socket.Options.KeepAliveInterval = TimeSpan.Zero; // the relay pings; the real clients never do
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
        await _socket.ConnectAsync(new Uri(Url, $"?mesh={Slot.MeshName}"), connectTimeout.Token);
        OpenedAt = RunClock.Now;
        Enqueue(OutKind.Presence);
        var sending = SendLoopAsync(cancellation);
        var receiving = ReceiveLoopAsync(cancellation);
        // When both loops end the socket is gone, whoever ended it: dispose it and report the loss.
        _ = Task.Run(async () =>
        {
            await receiving;
            _out.Writer.TryComplete();
            await sending;
            Dispose();
            if (!cancellation.IsCancellationRequested && !_frozen) onLost(this);
        }, CancellationToken.None);
    }

    /// <summary>Stops every connection's records (and its replacement when it closes): the checker reads them from
    /// here on, while the sockets close.</summary>
    public static void FreezeRecords() => _frozen = true;

    public static bool Frozen => _frozen;

    public void Enqueue(OutKind kind, ChaosConnection? target = null) => _out.Writer.TryWrite((kind, target));

    /// <summary>Closes the socket as a client leaving does (the end of the run).</summary>
    public async Task CloseAsync()
    {
        _out.Writer.TryComplete();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            _socket.Abort();
        }
    }

    private async Task SendLoopAsync(CancellationToken cancellation)
    {
        try
        {
            await foreach (var (kind, target) in _out.Reader.ReadAllAsync(cancellation))
            {
                var seq = Sent.Count;
                var text = kind switch
                {
                    OutKind.Presence => _presence,
                    OutKind.Direct => Frame("direct", seq, $",\"to\":\"{target!.PeerId}\""),
                    OutKind.Broadcast => Frame("broadcast", seq, ""),
                    _ => Frame("stream", seq, ""),
                };
                await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellation);
                var at = RunClock.Now;
                LastSentAt = at;
                if (kind != OutKind.Presence) Sent.Add(new SentFrame(seq, at, kind, target));
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // the socket is gone: the receive loop records when and why
        }
    }

    private string Frame(string type, int seq, string to) =>
        $$$"""{"type":"{{{type}}}","from":"{{{PeerId}}}"{{{to}}},"turnId":"{{{Key}}}.{{{seq}}}","data":{"run":"{{{_run}}}","k":{{{Key}}},"seq":{{{seq}}},"pad":"{{{Pad}}}"}}""";

    private const string Pad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private async Task ReceiveLoopAsync(CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.GetMemory(4096), cancellation);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    Closed($"close {(int?)_socket.CloseStatus} {_socket.CloseStatusDescription}");
                    return;
                }

                buffer.Advance(result.Count);
                if (!result.EndOfMessage) continue;
                Observe(buffer.WrittenSpan);
                buffer.ResetWrittenCount();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            Closed(cancellation.IsCancellationRequested ? "run ended" : $"lost: {e.GetType().Name}");
        }
    }

    private void Closed(string reason)
    {
        if (_frozen) return;
        ClosedAt = RunClock.Now;
        CloseReason = reason;
    }

    private void Observe(ReadOnlySpan<byte> utf8)
    {
        if (_frozen) return;
        var at = RunClock.Now;
        using var frame = JsonDocument.Parse(utf8.ToArray());
        var root = frame.RootElement;
        var type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
        var from = root.TryGetProperty("from", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
        root.TryGetProperty("data", out var data);
        if (type == "presence" && from is not null)
        {
            var offline = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("status", out var s) && s.GetString() == "offline";
            Presences.Add(new PresenceSeen(at, from, offline));
            return;
        }

        if (type == "error" && from == "relay" && !root.TryGetProperty("sender", out _))
        {
            var code = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("code", out var c) ? c.GetString() ?? "" : "";
            var count = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("count", out var n) && n.TryGetInt64(out var v) ? v : 1;
            var turn = root.TryGetProperty("turnId", out var turnId) ? turnId.GetString() : null;
            Errors.Add(new RelayErrorSeen(at, code, count, turn));
            return;
        }

        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("run", out var run) || run.GetString() != _run) return;
        var sender = data.GetProperty("k").GetInt32();
        var seq = data.GetProperty("seq").GetInt32();
        if (!Received.TryGetValue(sender, out var track)) Received[sender] = track = new SenderTrack();
        if (!track.Seqs.Add(seq)) track.Duplicates++;
        else if (seq < track.Last) track.Reorders++;
        else track.Last = seq;
    }

    public void Dispose() => _socket.Dispose();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{PeerId}#{Key}");
}

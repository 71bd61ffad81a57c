using System.Net.WebSockets;
using Relay.Gateway.Authentication;
using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// One accepted WebSocket: who it is (mesh, bound peer id, latest presence), its liveness, and its outgoing
/// side (a byte-bounded <see cref="SendQueue"/> drained by its own writer loop, so a slow socket only ever
/// delays itself). The reader side is a <see cref="ConnectionReader"/>; what the connection's frames mean is decided
/// above this layer (routing).
/// </summary>
internal sealed class RelayConnection : MeshMember, IAuthenticatedConnection
{
    private readonly WebSocket _socket;
    private readonly WriteCoalescingStream? _transport;
    private readonly SendQueue _queue;
    private readonly TimeProvider _time;

    // A doorbell, not a queue: one pending ring is enough to wake the writer, further rings are dropped.
    private readonly Doorbell _doorbell = new();

    private long _lastFrame;
    private long _lastProgress;
    private int _closeStatus;
    private string? _closeReason;
    private volatile bool _drainBeforeClose;

    /// <summary>Auth tokens this connection authenticated with after the upgrade, newest last (redacted from its
    /// frames like its URL credentials). Bounded: tokens refreshed away long ago have expired.</summary>
    private Queue<string>? _tokens;
    private const int MaxRedactedTokens = 4;
    private readonly CredentialRedactor? _upgradeRedactor;
    private ConnectionPrincipal? _principal;

    /// <param name="transport">The socket's transport when it can hold a write back (<see cref="WriteCoalescingStream"/>):
    /// the writer then sends a burst of queued frames as one write. Null sends every frame on its own.</param>
    /// <param name="gate">The lock of the send queue, shared with <paramref name="echo"/> when it was given the same:
    /// one lock per connection rather than one per part.</param>
    /// <param name="newErrorGate">Makes the connection's error gate when its first error is sent (most connections
    /// never get one). A gate made late behaves as one made at accept: an unused bucket is full either way.</param>
    public RelayConnection(long id, string meshName, WebSocket socket, WriteCoalescingStream? transport, long sendQueueBytes, TimeProvider time,
        Lock gate, EchoFilter? echo, CredentialRedactor? redactor, TokenBucket inboundLimit, TokenBucket inboundBytes, Func<ErrorGate> newErrorGate)
    {
        Id = id;
        MeshName = meshName;
        _socket = socket;
        _transport = transport;
        _queue = new SendQueue(sendQueueBytes, gate);
        _time = time;
        Echo = echo;
        Redactor = _upgradeRedactor = redactor;
        InboundLimit = inboundLimit;
        InboundBytes = inboundBytes;
        _newErrorGate = newErrorGate;
        _lastFrame = _lastProgress = time.GetTimestamp();
    }

    public long Id { get; }

    // When (a TimeProvider timestamp) this connection must have registered: 0 for none (it registered once, or the
    // deadline is off); long.MaxValue while a presence is being recorded.
    private long _registrationDeadline;

    /// <summary>The connection must register within <paramref name="timeout"/> from now (0: no deadline).</summary>
    public void StartRegistrationDeadline(TimeSpan timeout) => Volatile.Write(ref _registrationDeadline,
        timeout <= TimeSpan.Zero ? 0 : _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency));

    /// <summary>A presence of a connection that never registered is being recorded: not late while it is.</summary>
    public void HoldRegistrationDeadline() => Volatile.Write(ref _registrationDeadline, long.MaxValue);

    /// <summary>The connection registered: it has no deadline any more (a reaped connection keeps its socket).</summary>
    public void EndRegistrationDeadline() => Volatile.Write(ref _registrationDeadline, 0);

    /// <summary>True while the connection has a registration deadline: it never registered.</summary>
    public bool AwaitsFirstRegistration => Volatile.Read(ref _registrationDeadline) != 0;

    /// <summary>True when the connection has not registered by its deadline (a registration in progress is not late).</summary>
    public bool IsRegistrationOverdue(long now)
    {
        var deadline = Volatile.Read(ref _registrationDeadline);
        return deadline != 0 && now >= deadline && !Registered;
    }

    /// <summary>True when the writer can send a burst of frames as one write (see <see cref="WriteCoalescingStream"/>).</summary>
    public bool CoalescesWrites => _transport is not null;

    /// <summary>The mesh this connection was opened in (it never changes).</summary>
    public string MeshName { get; }

    /// <summary>True between registration (a presence) and the connection's close or reap. Written under the
    /// peer's transition gate; read without a lock by the fan-out, which tolerates a stale answer.</summary>
    public volatile bool Registered;

    /// <summary>A peer grain call about this connection (its registration or its leaving) failed, so the grain may
    /// hold it while this node does not: it is told again (<see cref="Routing.PeerMembership"/>). Written under the
    /// peer's transition gate.</summary>
    public bool GrainMayHold { get; set; }

    /// <summary>This connection's latest presence <c>data</c>, raw JSON.</summary>
    public byte[] Metadata { get; set; } = "{}"u8.ToArray();

    /// <summary>The peer's incarnation (from its grain) when this connection registered.</summary>
    public long Incarnation { get; set; }

    public EchoFilter? Echo { get; }

    /// <summary>Replaces this connection's credentials in the frames it sends: those of its upgrade request (URL
    /// parameters, bearer header) and the tokens it authenticated with. Read and replaced by the reader only.</summary>
    public CredentialRedactor? Redactor { get; private set; }

    /// <summary>Who this connection authenticated as (null when auth is off). Set before the session starts and
    /// replaced by a fresher token of the same principal; read by the reader (registration) and its expiry timer.</summary>
    public ConnectionPrincipal? Principal => Volatile.Read(ref _principal);

    /// <summary>Binds the principal and its token to the connection; the token joins the credentials redacted from
    /// every frame the connection sends, whichever way it arrived (header, query, auth frame).</summary>
    public void Authenticate(ConnectionPrincipal principal, string token)
    {
        Volatile.Write(ref _principal, principal);
        _tokens ??= new Queue<string>(MaxRedactedTokens + 1);
        if (_tokens.Contains(token)) return;
        _tokens.Enqueue(token);
        if (_tokens.Count > MaxRedactedTokens) _tokens.Dequeue();
        var redactor = _upgradeRedactor;
        foreach (var known in _tokens) redactor = CredentialRedactor.With(redactor, known);
        Redactor = redactor;
    }

    /// <summary>Frames per second this connection may send.</summary>
    public TokenBucket InboundLimit { get; }

    /// <summary>Bytes of frames per second this connection may send (one token per byte).</summary>
    public TokenBucket InboundBytes { get; }

    /// <summary>The rate limit of the relay's error frames to this connection, made at its first error.</summary>
    public ErrorGate Errors => Volatile.Read(ref _errors) ?? InstallErrorGate();

    /// <summary>The error gate if the connection has had an error; null before its first.</summary>
    public ErrorGate? ErrorsIfAny => Volatile.Read(ref _errors);

    private readonly Func<ErrorGate> _newErrorGate;
    private ErrorGate? _errors;

    // Errors may be sent from several threads at once: one gate wins, the others' (unused) are dropped.
    private ErrorGate InstallErrorGate() => Interlocked.CompareExchange(ref _errors, _newErrorGate(), null) ?? _errors!;

    /// <summary>Monotonic timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last frame received.</summary>
    public long LastFrame => Volatile.Read(ref _lastFrame);

    /// <summary>Last frame time already reported to the peer grain.</summary>
    public long LastReportedFrame { get; set; }

    public long QueuedBytes => _queue.Bytes;

    public bool IsClosing => Volatile.Read(ref _closeStatus) != 0;

    /// <summary>The relay closed this connection because the node is draining (1012): its client is expected to
    /// reconnect elsewhere, so its peer is handed over to its lease instead of going offline at once.</summary>
    public bool ClosedForRestart => Volatile.Read(ref _closeStatus) == (int)CloseCodes.ServiceRestart;

    /// <summary>The close this node asked for (status and the relay's reason text), if any.</summary>
    public (WebSocketCloseStatus Status, string Reason)? RequestedClose =>
        Volatile.Read(ref _closeStatus) is var status and not 0 ? ((WebSocketCloseStatus)status, Volatile.Read(ref _closeReason) ?? "") : null;

    public void Touch(long now) => Volatile.Write(ref _lastFrame, now);

    /// <summary>Queues a frame for this socket. Never blocks; a full queue drops (see <see cref="SendQueue"/>). The
    /// queue takes its own reference to <paramref name="frame"/>; the caller keeps its own.
    /// <paramref name="receivedAt"/>: the timestamp (<see cref="TimeProvider.GetTimestamp"/>) at which the client frame
    /// it carries was received, for the delivery latency; 0 for the relay's own frames (not measured).</summary>
    public bool Send(OutboundFrame frame, bool droppable, long receivedAt = 0)
    {
        if (IsClosing) return false;
        var queued = _queue.TryEnqueue(frame, droppable, _time, out var wasEmpty, receivedAt);
        // The writer drains until the queue is empty before it waits again: it only needs waking when this frame
        // went into an empty queue.
        if (wasEmpty) _doorbell.Ring();
        return queued;
    }

    /// <summary>Queues a frame the relay built for this one socket.</summary>
    public bool Send(byte[] frame, bool droppable) => Send(OutboundFrame.Wrap(frame), droppable);

    /// <summary>Gives back the send queue's ring when the queue has had no frame for <see cref="QuietRingLifetime"/>
    /// (see <see cref="SendQueue.TrimIfIdle"/>); <paramref name="now"/> is a timestamp.</summary>
    public void TrimIdleQueue(long now) => _queue.TrimIfIdle(now - (long)(QuietRingLifetime.TotalSeconds * _time.TimestampFrequency));

    /// <summary>How long an empty send queue keeps its ring: longer than the gaps between the frames of a quiet mesh's
    /// peers (presence every 10 s, heartbeats every 20 s), so those reuse it, and short enough that a silent
    /// connection gives it back.</summary>
    internal static readonly TimeSpan QuietRingLifetime = TimeSpan.FromMinutes(1);

    /// <summary>True when frames are waiting and none was written for <paramref name="stall"/>.</summary>
    public bool IsStalled(TimeSpan stall)
    {
        if (_queue.Count == 0) return false;
        // A consumer is stalled when queued frames wait for a write that does not come; an idle consumer that just
        // got its first frame in a while has made no progress only because it had nothing to receive.
        var progress = Math.Max(Volatile.Read(ref _lastProgress), _queue.NonEmptySince);
        return _time.GetElapsedTime(progress) >= stall;
    }

    /// <summary>Asks the writer to close the socket with <paramref name="status"/>: after the frames already queued
    /// when <paramref name="drainFirst"/> (nothing new is accepted meanwhile), otherwise after the frame it is
    /// writing. The first request wins.</summary>
    public void RequestClose(WebSocketCloseStatus status, string reason, bool drainFirst = true)
    {
        if (Interlocked.CompareExchange(ref _closeStatus, (int)status, 0) != 0) return;
        _closeReason = reason;
        _drainBeforeClose = drainFirst;
        _doorbell.Ring();
    }

    /// <summary>Drops the transport at once (a consumer that makes no progress cannot even take a close frame).</summary>
    public void Abort() => _socket.Abort();

    /// <summary>The writer loop: drains the queue into the socket, tells the consumer about drops once it has
    /// caught up (the notice made by <paramref name="droppedNotice"/> for this connection and the count), and performs
    /// a requested close.</summary>
    /// <remarks>
    /// Frames are sent without a cancellation token: WebSocket sends with a cancellable token take the slow path
    /// (an async lock and a token registration per frame), and <paramref name="cancellationToken"/> (the request's
    /// abort) only fires once the transport is gone, when Kestrel completes pending and later writes by itself.
    /// The token still ends the wait for more frames.
    /// </remarks>
    public async Task RunWriterAsync(Func<RelayConnection, long, byte[]> droppedNotice, RelayMetrics? metrics, CancellationToken cancellationToken)
    {
        try
        {
            // A burst is written by a method of its own: it mostly completes without suspending, so its locals are not
            // part of this loop's state, which waits for the doorbell for the socket's life.
            while (await _doorbell.WaitAsync(cancellationToken))
            {
                if (!await WriteBurstAsync(droppedNotice, metrics, cancellationToken)) return;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The transport is gone; the reader notices too and cleans up.
        }
    }

    /// <summary>Writes what is queued, then performs a requested close (false: the writer is done) or tells the consumer
    /// about drops.</summary>
    private async Task<bool> WriteBurstAsync(Func<RelayConnection, long, byte[]> droppedNotice, RelayMetrics? metrics, CancellationToken cancellationToken)
    {
        var sent = new SentTally(metrics);
        try
        {
            // One frame of look-ahead: a frame is held back in the transport only when the next one is already in
            // hand, so whatever is held always goes out with a write that follows at once.
            var have = _queue.TryDequeue(out var next, out var nextReceivedAt);
            try
            {
                while (have)
                {
                    // A close that skips the queue: the frame in hand is given back below, unsent.
                    if (IsClosing && !_drainBeforeClose) break;
                    var frame = next!;
                    var receivedAt = nextReceivedAt;
                    have = _queue.TryDequeue(out next, out nextReceivedAt);
                    var length = frame.Length;
                    if (have) _transport?.HoldNextWrite();
                    try
                    {
                        await _socket.SendAsync(frame.Memory, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    }
                    finally
                    {
                        _transport?.CancelHold();
                        // The WebSocket has copied the bytes into its own buffer (or failed): the queue's reference
                        // is done with.
                        frame.Release();
                    }
                    var written = _time.GetTimestamp();
                    Volatile.Write(ref _lastProgress, written);
                    sent.Add(length);
                    if (receivedAt != 0) metrics?.Delivered(_time.GetElapsedTime(receivedAt, written));
                }
            }
            finally
            {
                if (have) next!.Release();
            }
            sent.Flush();
            if (IsClosing)
            {
                await CloseAsync(cancellationToken);
                return false;
            }
            var dropped = _queue.TakeDroppedCount();
            if (dropped > 0)
            {
                var notice = droppedNotice(this, dropped);
                await _socket.SendAsync(notice, WebSocketMessageType.Text, true, CancellationToken.None);
                Volatile.Write(ref _lastProgress, _time.GetTimestamp());
                sent.Add(notice.Length);
            }
            return true;
        }
        finally
        {
            sent.Flush();
        }
    }

    /// <summary>Ends the writer loop (after the reader finished).</summary>
    public void CompleteWriter() => _doorbell.Complete();

    private async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await _socket.CloseOutputAsync((WebSocketCloseStatus)Volatile.Read(ref _closeStatus), _closeReason, cancellationToken);
        }
    }
}

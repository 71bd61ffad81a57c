using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// The reader side of one connection: receives each frame whole, parses it once, and applies protocol.md's
/// rules (presence, heartbeat, capabilities, direct addressing, broadcast with echo suppression, errors).
/// Frames are handled one after the other, which is what keeps every receiver's view of this sender in order.
/// Auth on (<paramref name="tokens"/> set): the connection arrives authenticated; later <c>auth</c> frames refresh its
/// token, and with <see cref="TokenExpiryPolicy.Close"/> the socket is closed (1008) when its token expires.
/// </summary>
internal sealed class ConnectionSession(
    RelayConnection connection,
    WebSocket socket,
    RelayOptions options,
    PeerMembership membership,
    EchoTypes echoTypes,
    RelayMetrics metrics,
    TimeProvider time,
    TokenValidator? tokens = null)
{
    /// <summary>How long a client whose token expired gets to answer the close frame before the socket is dropped.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    /// <summary>Longest single timer wait (timers take at most about 49 days); a later expiry is re-armed.</summary>
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(24);

    private readonly List<AgentListing<MeshMember>> _scratch = [];
    private readonly Utf8StringCache _names = new();
    private readonly Lock _expiryLock = new();
    private ITimer? _expiry;
    private ITimer? _abortAfterClose;
    private bool _ended;
    private CancellationToken _stop;

    /// <summary>The receive buffer rented for each frame: enough for usual frames; a larger frame borrows a bigger one.
    /// Nothing is held between frames: an idle connection waits with a zero-byte read.</summary>
    private const int ReceiveBufferBytes = 4096;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        _stop = cancellationToken;
        ArmExpiry();
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
                while (!result.EndOfMessage && length <= options.MaxFrameBytes)
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, options.MaxFrameBytes + 1));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                    length += result.Count;
                    if (result.MessageType == WebSocketMessageType.Close) return;
                }

                if (length > options.MaxFrameBytes)
                {
                    metrics.Disconnected("oversize");
                    connection.RequestClose(CloseCodes.MessageTooBig,
                        string.Create(CultureInfo.InvariantCulture, $"frame larger than {options.MaxFrameBytes} bytes"));
                    return;
                }
                metrics.FrameReceived(length);
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    connection.Touch(time.GetTimestamp());
                    SendError(ErrorCodes.BinaryFrame, "binary frames are not supported; send UTF-8 JSON text frames", default);
                }
                else
                {
                    await HandleFrameAsync(buffer.AsMemory(0, length));
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
            lock (_expiryLock)
            {
                _ended = true;
                _expiry?.Dispose();
                _abortAfterClose?.Dispose();
            }
        }
    }

    private async ValueTask HandleFrameAsync(ReadOnlyMemory<byte> frame)
    {
        var now = time.GetTimestamp();
        connection.Touch(now);
        // Parsed before the rate limit so that even a rate_limited error carries the frame's turnId (one pass over
        // the bytes; a flood costs that, and nothing else).
        var parsed = FrameParser.Parse(frame.Span, echoTypes.IsSuppressed, _names);
        if (!connection.InboundLimit.TryTake(now))
        {
            metrics.RateLimited();
            SendError(ErrorCodes.RateLimited, RateLimitText, TurnIdOf(frame, parsed));
            return;
        }
        if (parsed.Error != ParseError.None)
        {
            SendError(ErrorCodes.ForParseError(parsed.Error), parsed.ErrorDetail ?? "invalid frame", TurnIdOf(frame, parsed));
            return;
        }

        switch (parsed.Kind)
        {
            case FrameKind.Presence:
                await HandlePresenceAsync(frame, parsed);
                return;
            case FrameKind.Heartbeat:
                return; // liveness only, already counted above
            case FrameKind.Capabilities:
                SendCapabilities();
                return;
            case FrameKind.Auth:
                if (tokens is not null) await RefreshAsync(frame, parsed);
                return; // with authentication off, an auth frame is accepted and changes nothing
        }

        if (!connection.Registered)
        {
            SendError(ErrorCodes.NotRegistered, "send a presence first; nothing is forwarded before it", TurnIdOf(frame, parsed));
            return;
        }
        if (parsed.Kind == FrameKind.Direct) RouteDirect(frame, parsed, now);
        else RouteBroadcast(frame, parsed, now);
    }

    private async ValueTask HandlePresenceAsync(ReadOnlyMemory<byte> frame, ParsedFrame parsed)
    {
        if (PresenceRules.Check(parsed, frame.Length, connection.PeerId, options.MaxPeerIdLength, options.MaxMetadataBytes) is { } refused)
        {
            SendError(refused.Code, refused.Message, TurnIdOf(frame, parsed));
            return;
        }
        var peerId = parsed.From!;
        connection.PeerId = peerId;
        connection.Agents = parsed.Agents;
        var announcement = FrameStamper.Stamp(frame.Span, parsed, peerId, UnixTime.Now(time), connection.Redactor);
        var metadata = MetadataOf(frame.Span, parsed, announcement);
        var outcome = await membership.PresenceAsync(connection, metadata, announcement);
        if (outcome == PeerMembership.Outcome.Unavailable)
        {
            SendError(ErrorCodes.Unavailable, "the relay could not record this presence; send it again", TurnIdOf(frame, parsed));
        }
        else if (outcome == PeerMembership.Outcome.MeshFull)
        {
            // Not bound either: the client may send its presence again once somebody has left.
            connection.PeerId = null;
            connection.Agents = null;
            SendError(ErrorCodes.MeshFull, string.Create(CultureInfo.InvariantCulture,
                $"mesh \"{connection.Mesh.Name}\" holds its maximum of {options.MaxPeersPerMesh} peers; this connection was not registered, send presence again later"),
                TurnIdOf(frame, parsed));
        }
        else if (outcome == PeerMembership.Outcome.Refused)
        {
            // Not bound: the id belongs to another principal, and this connection may still choose another one.
            connection.PeerId = null;
            connection.Agents = null;
            SendError(ErrorCodes.PeerIdTaken, $"peer id \"{peerId}\" is online under another identity; this connection was not registered",
                TurnIdOf(frame, parsed));
        }
    }

    /// <summary>A later auth frame: a fresher token of the same principal (and mesh) replaces the connection's, and is
    /// redacted from its frames from now on. Anything else is refused with an error; the connection keeps the
    /// authentication it had.</summary>
    private async ValueTask RefreshAsync(ReadOnlyMemory<byte> frame, ParsedFrame parsed)
    {
        const string Keeps = "; the connection keeps its authentication";
        if (string.IsNullOrEmpty(parsed.Token))
        {
            SendError(ErrorCodes.Unauthorized, "an auth frame needs a string token" + Keeps, TurnIdOf(frame, parsed));
            return;
        }
        var check = await tokens!.ValidateAsync(parsed.Token, _stop);
        string? refused = check.Status switch
        {
            TokenStatus.Valid when !check.Principal!.IsSameIdentity(connection.Principal!) => "token is for another identity",
            TokenStatus.Valid when check.Principal!.Mesh is { } mesh && mesh != connection.Mesh.Name => ConnectionPrincipal.OtherMeshError,
            TokenStatus.Valid => null,
            _ => check.Error,
        };
        if (refused is not null)
        {
            metrics.AuthRefused("refresh", refused);
            SendError(ErrorCodes.Unauthorized, "token refused: " + refused + Keeps, TurnIdOf(frame, parsed));
            return;
        }
        metrics.Authenticated("refresh");
        connection.Authenticate(check.Principal!, parsed.Token);
        ArmExpiry();
    }

    /// <summary>With <see cref="TokenExpiryPolicy.Close"/>: (re)arms the timer that closes the socket when the
    /// connection's token expires (its <c>exp</c> plus the clock skew).</summary>
    private void ArmExpiry()
    {
        if (tokens is not { Options.OnExpiry: TokenExpiryPolicy.Close } || connection.Principal is not { } principal) return;
        var wait = principal.ExpiresAt + tokens.Options.ClockSkew - time.GetUtcNow();
        wait = wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxTimerWait ? MaxTimerWait : wait;
        lock (_expiryLock)
        {
            if (_ended) return;
            _expiry?.Dispose();
            _expiry = time.CreateTimer(static state => ((ConnectionSession)state!).OnExpiry(), this, wait, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnExpiry()
    {
        if (connection.Principal is not { } principal) return;
        if (principal.ExpiresAt + tokens!.Options.ClockSkew > time.GetUtcNow())
        {
            ArmExpiry(); // refreshed meanwhile, or a very distant expiry
            return;
        }
        lock (_expiryLock)
        {
            if (_ended || connection.IsClosing) return;
            metrics.AuthRefused("expiry", "token expired");
            metrics.Disconnected("token_expired");
            connection.RequestClose(CloseCodes.PolicyViolation, "token expired");
            // A client that does not answer the close frame keeps the reader waiting: drop it after a grace period.
            _abortAfterClose = time.CreateTimer(static state => ((RelayConnection)state!).Abort(), connection, CloseGrace, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The presence's <c>data</c> as snapshots will show it: taken from the redacted announcement when the
    /// connection's credentials might be in it, so that they never reach a newcomer either.</summary>
    private byte[] MetadataOf(ReadOnlySpan<byte> frame, in ParsedFrame parsed, byte[] announcement)
    {
        if (parsed.DataKind == System.Text.Json.JsonValueKind.Undefined) return "{}"u8.ToArray();
        var data = frame[parsed.Data];
        if (connection.Redactor is not { } redactor || !redactor.MightContainSecret(data)) return data.ToArray();
        var stamped = FrameParser.Parse(announcement);
        return announcement.AsSpan()[stamped.Data].ToArray();
    }

    private void RouteDirect(ReadOnlyMemory<byte> frame, in ParsedFrame parsed, long receivedAt)
    {
        var mesh = connection.Mesh;
        _scratch.Clear();
        var route = DirectAddressing.Resolve(mesh, connection.PeerId!, connection.Agents, parsed.To, parsed.TargetInstanceId, _scratch);
        switch (route.Route)
        {
            case DirectRoute.Peer:
            {
                var stamped = Stamp(frame, parsed);
                mesh.DeliverToPeer(connection, route.PeerId!, stamped, receivedAt);
                stamped.Release();
                metrics.Routed(FrameKind.Direct);
                break;
            }
            case DirectRoute.AgentConnection:
            {
                var stamped = Stamp(frame, parsed);
                mesh.DeliverToMember(connection, route.Connection!, stamped, receivedAt);
                stamped.Release();
                metrics.Routed(FrameKind.Direct);
                break;
            }
            case DirectRoute.LocalConversation:
                break; // the sender's own agents talking: nothing leaves the browser's mesh.
            case DirectRoute.Ambiguous:
                SendError(ErrorCodes.AmbiguousTarget,
                    $"several peers list agent \"{parsed.To}\"; add targetInstanceId with the peer id you mean",
                    TurnIdOf(frame, parsed), RelayFrames.CandidatesProperty(route.Candidates!));
                break;
            default:
                SendError(ErrorCodes.UnknownTarget, $"no peer or agent \"{parsed.To}\" in this mesh", TurnIdOf(frame, parsed));
                break;
        }
    }

    private void RouteBroadcast(ReadOnlyMemory<byte> frame, in ParsedFrame parsed, long now)
    {
        var suppressible = echoTypes.IsSuppressed(parsed.Type);
        if (suppressible && connection.Echo is { } echo && echo.IsEcho(parsed.DataHash, now))
        {
            metrics.EchoSuppressed();
            return;
        }
        var stamped = Stamp(frame, parsed);
        connection.Mesh.Broadcast(connection, stamped, suppressible ? parsed.DataHash : 0, now);
        stamped.Release();
        metrics.Routed(FrameKind.Broadcast);
    }

    private void SendCapabilities()
    {
        var mesh = connection.Mesh;
        connection.Send(RelayFrames.CapabilitiesResponse(connection.PeerId, mesh.ActiveAgents(), mesh.Name, mesh.PeerCount,
            RelayVersion.Value, UnixTime.Now(time)), droppable: false);
    }

    /// <summary>The frame to forward, in a pooled buffer: every queue that takes it holds its own reference, and the
    /// caller releases the one it gets here once the frame has been handed out.</summary>
    private OutboundFrame Stamp(ReadOnlyMemory<byte> frame, in ParsedFrame parsed) =>
        FrameStamper.StampForForwarding(frame.Span, parsed, connection.PeerId!, UnixTime.Now(time), connection.Redactor);

    /// <summary>Answers the sender with a relay error frame, within the connection's error rate limit.</summary>
    private void SendError(string code, string message, ReadOnlySpan<byte> turnId, ReadOnlySpan<byte> extra = default)
    {
        metrics.Error(code);
        var now = time.GetTimestamp();
        var suppressed = connection.Errors.TakeSummary(now);
        if (suppressed > 0) SendSuppressedSummary(connection, suppressed, UnixTime.Now(time));
        if (!connection.Errors.TryPass(now)) return;
        connection.Send(RelayFrames.Error(code, message, connection.PeerId, turnId, UnixTime.Now(time), extra), droppable: false);
    }

    internal static void SendSuppressedSummary(RelayConnection connection, long count, double now) =>
        connection.Send(RelayFrames.CountedError(ErrorCodes.ErrorsSuppressed, count, "further error(s) were not sent (error rate limit)",
            connection.PeerId, now), droppable: false);

    private string RateLimitText => string.Create(CultureInfo.InvariantCulture,
        $"rate limit exceeded ({options.RateLimitPerSecond} frames/s, bursts of {options.RateLimitBurst}); frame dropped");

    private static ReadOnlySpan<byte> TurnIdOf(ReadOnlyMemory<byte> frame, in ParsedFrame parsed) => frame.Span[parsed.TurnId];

}

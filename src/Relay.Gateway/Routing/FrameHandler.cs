using System.Globalization;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// What one connection's frames mean (protocol.md): each is parsed once, rate-limited, and then a presence is
/// registered (<see cref="PresenceHandler"/>), a heartbeat only counts as liveness, capabilities are answered, an auth
/// frame refreshes the token (<paramref name="tokens"/>: null when auth is off), and anything else is forwarded once
/// the connection is registered: direct frames to their addressee, the rest to the whole mesh (with echo suppression).
/// </summary>
internal sealed class FrameHandler(
    RelayConnection connection,
    MeshView mesh,
    RelayOptions options,
    PresenceHandler presence,
    EchoTypes echoTypes,
    ErrorReplies errors,
    RelayMetrics metrics,
    ILivenessReports liveness,
    TimeProvider time,
    ConnectionTokens? tokens) : IFrameHandler
{
    // Made at the connection's first direct frame: most connections never send one.
    private List<AgentListing<MeshMember>>? _scratch;
    private readonly Utf8StringCache _names = new();
    private string? _judgedFrom;
    private bool _judgedFromIsRelay;

    public async ValueTask HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        connection.Touch(now);
        liveness.FrameReceived(connection, now);
        // Parsed before the rate limit so that even a rate_limited error carries the frame's turnId (one pass over
        // the bytes; a flood costs that, and nothing else).
        var parsed = FrameParser.Parse(frame.Span, echoTypes.Check, _names);
        if (!connection.InboundLimit.TryTake(now))
        {
            metrics.RateLimited();
            errors.Send(connection, ErrorCodes.RateLimited, RateLimitText, TurnIdOf(frame, parsed));
            return;
        }
        if (!connection.InboundBytes.TryTake(now, frame.Length))
        {
            metrics.RateLimited();
            errors.Send(connection, ErrorCodes.ByteRateLimited, ByteRateLimitText, TurnIdOf(frame, parsed));
            return;
        }
        if (parsed.Error != ParseError.None)
        {
            errors.Send(connection, ErrorCodes.ForParseError(parsed.Error), parsed.ErrorDetail ?? "invalid frame", TurnIdOf(frame, parsed));
            return;
        }

        switch (parsed.Kind)
        {
            case FrameKind.Presence:
                await presence.HandleAsync(connection, mesh, frame, parsed);
                return;
            case FrameKind.Heartbeat:
                return; // liveness only, already counted above
            case FrameKind.Capabilities:
                SendCapabilities();
                return;
            case FrameKind.Auth:
                // With authentication off, an auth frame is accepted and changes nothing.
                if (tokens is not null && await tokens.RefreshAsync(parsed.Token, cancellationToken) is { } refused)
                {
                    errors.Send(connection, ErrorCodes.Unauthorized, refused, TurnIdOf(frame, parsed));
                }
                return;
        }

        if (!connection.Registered)
        {
            errors.Send(connection, ErrorCodes.NotRegistered, "send a presence first; nothing is forwarded before it", TurnIdOf(frame, parsed));
            return;
        }
        if (ClaimsToBeTheRelay(parsed) is { } refusal)
        {
            errors.Send(connection, refusal.Code, refusal.Message, TurnIdOf(frame, parsed));
            return;
        }
        if (parsed.Kind == FrameKind.Direct) RouteDirect(frame, parsed, now);
        else RouteBroadcast(frame, parsed, now);
    }

    /// <summary>Receivers take <c>from: "relay"</c> and the relay's own frame types for the relay's word
    /// (agent-mesh.js reads <c>from</c>, never <c>sender</c>): a forwarded frame may claim neither.</summary>
    private RelayError? ClaimsToBeTheRelay(in ParsedFrame parsed)
    {
        if (FrameTypes.IsRelayOnly(parsed.Type))
        {
            return new RelayError(ErrorCodes.ReservedType, $"only the relay sends \"{parsed.Type}\" frames; not delivered");
        }
        // The parser hands out one string instance per recent name, so a connection's usual from is judged once.
        if (!ReferenceEquals(parsed.From, _judgedFrom))
        {
            _judgedFrom = parsed.From;
            _judgedFromIsRelay = RelayLookalikes.IsRelayLike(parsed.From);
        }
        return _judgedFromIsRelay
            ? new RelayError(ErrorCodes.ReservedSender, "from names the relay (\"relay\" is reserved); not delivered")
            : null;
    }

    private void RouteDirect(ReadOnlyMemory<byte> frame, in ParsedFrame parsed, long receivedAt)
    {
        var scratch = _scratch ??= [];
        scratch.Clear();
        var route = DirectAddressing.Resolve(mesh.Membership, connection.PeerId!, connection.Agents, parsed.To, parsed.TargetInstanceId, scratch);
        switch (route.Route)
        {
            case DirectRoute.Peer:
            {
                var stamped = Stamp(frame, parsed);
                mesh.FanOut.DeliverToPeer(connection, route.PeerId!, stamped, receivedAt);
                stamped.Release();
                metrics.Routed(FrameKind.Direct);
                break;
            }
            case DirectRoute.AgentConnection:
            {
                var stamped = Stamp(frame, parsed);
                mesh.FanOut.DeliverToMember(connection, route.Connection!, stamped, receivedAt);
                stamped.Release();
                metrics.Routed(FrameKind.Direct);
                break;
            }
            case DirectRoute.LocalConversation:
                break; // the sender's own agents talking: nothing leaves the browser's mesh.
            case DirectRoute.Ambiguous:
                errors.Send(connection, ErrorCodes.AmbiguousTarget,
                    $"several peers list agent \"{parsed.To}\"; add targetInstanceId with the peer id you mean",
                    TurnIdOf(frame, parsed), RelayFrames.CandidatesProperty(route.Candidates!));
                break;
            default:
                errors.Send(connection, ErrorCodes.UnknownTarget, $"no peer or agent \"{parsed.To}\" in this mesh", TurnIdOf(frame, parsed));
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
        mesh.FanOut.Broadcast(connection, stamped, suppressible ? parsed.DataHash : 0, now);
        stamped.Release();
        metrics.Routed(FrameKind.Broadcast);
    }

    private void SendCapabilities()
    {
        var membership = mesh.Membership;
        connection.Send(RelayFrames.CapabilitiesResponseWithAgentsJson(connection.PeerId, membership.ActiveAgentListing().JsonArray, mesh.Name, membership.PeerCount,
            RelayVersion.Value, UnixTime.Now(time)), droppable: false);
    }

    /// <summary>The frame to forward, in a pooled buffer: every queue that takes it holds its own reference, and the
    /// caller releases the one it gets here once the frame has been handed out.</summary>
    private OutboundFrame Stamp(ReadOnlyMemory<byte> frame, in ParsedFrame parsed) =>
        FrameStamper.StampForForwarding(frame.Span, parsed, connection.PeerId!, UnixTime.Now(time), connection.Redactor);

    private string RateLimitText => string.Create(CultureInfo.InvariantCulture,
        $"rate limit exceeded ({options.RateLimitPerSecond} frames/s, bursts of {options.RateLimitBurst}); frame dropped");

    private string ByteRateLimitText => string.Create(CultureInfo.InvariantCulture,
        $"byte rate limit exceeded ({options.ByteRateLimitPerSecond} bytes/s, bursts of {options.ByteRateLimitBurst}); frame dropped");

    private static ReadOnlySpan<byte> TurnIdOf(ReadOnlyMemory<byte> frame, in ParsedFrame parsed) => frame.Span[parsed.TurnId];
}

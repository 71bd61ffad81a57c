using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// A connection's presence frames: checked against protocol.md's rules (<see cref="PresenceRules"/>), the first one
/// binds the connection to its peer id and registers it (<see cref="PeerMembership"/>), later ones update its data.
/// A presence that cannot be recorded is answered with an error and leaves the connection as it was.
/// </summary>
internal sealed class PresenceHandler(IOptions<RelayOptions> relayOptions, PeerMembership membership, ErrorReplies errors, TimeProvider time)
{
    private readonly RelayOptions _options = relayOptions.Value;

    public async ValueTask HandleAsync(RelayConnection connection, MeshView mesh, ReadOnlyMemory<byte> frame, ParsedFrame parsed)
    {
        if (PresenceRules.Check(parsed, frame.Length, connection.PeerId, _options.MaxPeerIdLength, _options.MaxMetadataBytes) is { } refused)
        {
            errors.Send(connection, refused.Code, refused.Message, TurnIdOf(frame, parsed));
            return;
        }
        var peerId = parsed.From!;
        connection.PeerId = peerId;
        var listed = parsed.Agents;
        connection.Agents = listed is not null && listed.Length > _options.MaxAgentsPerPeer ? listed[.._options.MaxAgentsPerPeer] : listed;
        var announcement = FrameStamper.Stamp(frame.Span, parsed, peerId, UnixTime.Now(time), connection.Redactor);
        var metadata = MetadataOf(connection, frame.Span, parsed, announcement);
        var firstRegistration = connection.AwaitsFirstRegistration;
        if (firstRegistration) connection.HoldRegistrationDeadline();
        var outcome = await membership.PresenceAsync(mesh, connection, metadata, announcement);
        if (firstRegistration)
        {
            // Registered: no deadline any more. Refused by the relay (not for a bad frame): the client is doing what it
            // should, and gets the whole timeout again to send its presence once more.
            if (outcome == PeerMembership.Outcome.Registered) connection.EndRegistrationDeadline();
            else connection.StartRegistrationDeadline(_options.RegistrationTimeout);
        }
        if (outcome is PeerMembership.Outcome.Registered or PeerMembership.Outcome.Updated && listed is not null && listed.Length > _options.MaxAgentsPerPeer)
        {
            errors.Send(connection, ErrorCodes.TooManyAgents, string.Create(CultureInfo.InvariantCulture,
                $"presence lists {listed.Length} agents; only the first {_options.MaxAgentsPerPeer} are used for direct addressing and activeAgents (the presence was forwarded whole)"),
                TurnIdOf(frame, parsed));
        }
        else if (outcome == PeerMembership.Outcome.Unavailable)
        {
            errors.Send(connection, ErrorCodes.Unavailable, "the relay could not record this presence; send it again", TurnIdOf(frame, parsed));
        }
        else if (outcome == PeerMembership.Outcome.MeshFull)
        {
            // Not bound either: the client may send its presence again once somebody has left.
            connection.PeerId = null;
            connection.Agents = null;
            errors.Send(connection, ErrorCodes.MeshFull, string.Create(CultureInfo.InvariantCulture,
                $"mesh \"{mesh.Name}\" holds its maximum of {_options.MaxPeersPerMesh} peers; this connection was not registered, send presence again later"),
                TurnIdOf(frame, parsed));
        }
        else if (outcome == PeerMembership.Outcome.Refused)
        {
            // Not bound: the id belongs to another principal, and this connection may still choose another one.
            connection.PeerId = null;
            connection.Agents = null;
            errors.Send(connection, ErrorCodes.PeerIdTaken, $"peer id \"{peerId}\" is online under another identity; this connection was not registered",
                TurnIdOf(frame, parsed));
        }
    }

    /// <summary>The presence's <c>data</c> as snapshots will show it: taken from the redacted announcement when the
    /// connection's credentials might be in it, so that they never reach a newcomer either.</summary>
    private static byte[] MetadataOf(RelayConnection connection, ReadOnlySpan<byte> frame, in ParsedFrame parsed, byte[] announcement)
    {
        if (parsed.DataKind == JsonValueKind.Undefined) return "{}"u8.ToArray();
        var data = frame[parsed.Data];
        if (connection.Redactor is not { } redactor || !redactor.MightContainSecret(data)) return data.ToArray();
        var stamped = FrameParser.Parse(announcement);
        return announcement.AsSpan()[stamped.Data].ToArray();
    }

    private static ReadOnlySpan<byte> TurnIdOf(ReadOnlyMemory<byte> frame, in ParsedFrame parsed) => frame.Span[parsed.TurnId];
}

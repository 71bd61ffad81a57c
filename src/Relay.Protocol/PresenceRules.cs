using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// What makes a presence acceptable (protocol.md "presence"), checked in this order: a valid peer id in <c>from</c>
/// (never the relay's own), the same id the connection registered with before, <c>data</c> that is a JSON object,
/// and <c>data</c> no larger than the relay keeps.
/// </summary>
public static class PresenceRules
{
    /// <summary>The error to answer <paramref name="parsed"/> with, or null when the presence is acceptable.</summary>
    /// <param name="parsed">A presence, parsed from a frame of <paramref name="frameLength"/> bytes.</param>
    /// <param name="boundPeerId">The peer id the connection's earlier presence bound it to, if any.</param>
    public static RelayError? Check(in ParsedFrame parsed, int frameLength, string? boundPeerId, int maxPeerIdLength, int maxMetadataBytes)
    {
        if (!PeerIds.IsValid(parsed.From, maxPeerIdLength, out var problem))
        {
            return RelayLookalikes.IsRelayLike(parsed.From)
                ? new RelayError(ErrorCodes.ReservedId, "\"relay\" is reserved for the relay itself")
                : new RelayError(ErrorCodes.InvalidPresence, $"presence needs a valid string from: {problem}");
        }
        if (boundPeerId is not null && !string.Equals(boundPeerId, parsed.From, StringComparison.Ordinal))
        {
            return new RelayError(ErrorCodes.IdChange,
                $"this connection is bound to peer id \"{boundPeerId}\"; open a new connection for another id");
        }
        if (parsed.DataKind is not (JsonValueKind.Undefined or JsonValueKind.Object))
        {
            // Clients read data.agents and friends from every presence; anything but an object would break them.
            return new RelayError(ErrorCodes.InvalidPresence, "presence data must be a JSON object");
        }
        if (parsed.Data.GetOffsetAndLength(frameLength).Length > maxMetadataBytes)
        {
            return new RelayError(ErrorCodes.MetadataTooLarge, $"presence data is larger than {maxMetadataBytes} bytes");
        }
        return null;
    }
}

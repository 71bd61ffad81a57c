namespace Relay.Protocol;

/// <summary>
/// Every <c>data.code</c> the relay puts in its error frames (protocol.md "Relay errors").
/// Errors go to the offending connection only and never close it.
/// </summary>
public static class ErrorCodes
{
    /// <summary>The text frame is not valid JSON (or not valid UTF-8, or nested too deeply).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>The frame is valid JSON but its top-level value is not an object.</summary>
    public const string NotAnObject = "not_an_object";

    /// <summary>The frame has no <c>type</c>, or it is not a non-empty string.</summary>
    public const string MissingType = "missing_type";

    /// <summary><c>from</c>, <c>to</c> or <c>targetInstanceId</c> is present but not a string.</summary>
    public const string InvalidField = "invalid_field";

    /// <summary>The client sent a binary WebSocket message; only text frames are understood.</summary>
    public const string BinaryFrame = "binary_frame";

    /// <summary>A frame other than presence, heartbeat, capabilities or auth arrived before the connection's first presence.</summary>
    public const string NotRegistered = "not_registered";

    /// <summary>A <c>direct</c> frame's <c>to</c> resolved to no peer and no agent listing.</summary>
    public const string UnknownTarget = "unknown_target";

    /// <summary>A <c>direct</c> frame's <c>to</c> names an agent listed by several connections; <c>data.candidates</c> lists their peer ids.</summary>
    public const string AmbiguousTarget = "ambiguous_target";

    /// <summary>A presence named another <c>from</c> than the id the connection is bound to.</summary>
    public const string IdChange = "id_change";

    /// <summary>A presence tried to register a reserved id: <c>relay</c> or a name that reads as it
    /// (<see cref="RelayLookalikes"/>).</summary>
    public const string ReservedId = "reserved_id";

    /// <summary>A routed frame's <c>from</c> is <c>relay</c> or reads as it (case, invisible characters, compatibility
    /// forms: <see cref="RelayLookalikes"/>); nothing was delivered.</summary>
    public const string ReservedSender = "reserved_sender";

    /// <summary>A client sent a frame of a type only the relay sends (<c>error</c>, <c>capabilities_response</c>);
    /// nothing was delivered.</summary>
    public const string ReservedType = "reserved_type";

    /// <summary>A presence lacked a usable <c>from</c> or had a non-object <c>data</c>.</summary>
    public const string InvalidPresence = "invalid_presence";

    /// <summary>The connection exceeded its inbound frame rate; the frame was dropped.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>The connection exceeded its inbound byte rate (bytes of frames per second); the frame was dropped.</summary>
    public const string ByteRateLimited = "byte_rate_limited";

    /// <summary>A presence listed more agents than the relay keeps per connection: it was accepted and forwarded
    /// whole, but only its first agents count for direct addressing and <c>activeAgents</c>.</summary>
    public const string TooManyAgents = "too_many_agents";

    /// <summary>Frames for this slow consumer were dropped; <c>data.count</c> says how many, sent once it drains.</summary>
    public const string Dropped = "dropped";

    /// <summary>Summary sent once after further error frames to this connection were withheld by the error rate limit; <c>data.count</c> says how many.</summary>
    public const string ErrorsSuppressed = "errors_suppressed";

    /// <summary>A presence's <c>data</c> exceeded the configured metadata size; it was not stored or forwarded.</summary>
    public const string MetadataTooLarge = "metadata_too_large";

    /// <summary>A presence would register one more peer id in a mesh that holds its configured maximum of peers. The
    /// connection stays open and unregistered; a later presence is accepted once a peer has left. Further
    /// connections of a peer id already in the mesh are not refused.</summary>
    public const string MeshFull = "mesh_full";

    /// <summary>The relay could not record a presence (its cluster state did not answer); the client may send it again.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>Frames this connection sent could not be delivered to another node of the cluster (a node or the
    /// link to it failed); <c>data.count</c> says how many.</summary>
    public const string Undelivered = "undelivered";

    /// <summary>Frames meant for this connection were lost between nodes of the cluster (a node failed);
    /// <c>data.count</c> says how many batches.</summary>
    public const string LostInTransit = "lost_in_transit";
    /// <summary>Auth on: a presence named a peer id that is online (on any node) under another principal. The
    /// presence is refused and the live peer is unaffected; the connection stays open, unregistered.</summary>
    public const string PeerIdTaken = "peer_id_taken";

    /// <summary>Auth on: a later <c>auth</c> frame's token was refused (invalid, or another principal or mesh than
    /// the connection's); <c>data.error</c> says why, never echoing the token. The connection keeps the
    /// authentication it had.</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>The code of the error frame that answers a frame <see cref="FrameParser.Parse"/> rejected.</summary>
    public static string ForParseError(ParseError error) => error switch
    {
        ParseError.NotAnObject => NotAnObject,
        ParseError.MissingType => MissingType,
        ParseError.InvalidField => InvalidField,
        _ => InvalidJson,
    };
}

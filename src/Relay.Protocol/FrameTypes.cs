namespace Relay.Protocol;

/// <summary>
/// Type names the relay knows. The parser returns these very instances for matching frames,
/// so reference comparison works and parsing a well-known type allocates nothing.
/// </summary>
public static class FrameTypes
{
    public const string Presence = "presence";
    public const string Heartbeat = "heartbeat";
    public const string Direct = "direct";
    public const string Capabilities = "capabilities";
    public const string CapabilitiesRequest = "capabilities_request";
    public const string CapabilitiesResponse = "capabilities_response";
    public const string Auth = "auth";
    public const string Broadcast = "broadcast";
    public const string Stream = "stream";
    public const string Ack = "ack";
    public const string TurnEnd = "turn_end";
    public const string Error = "error";
    public const string Invoke = "invoke";
    public const string RingUpdate = "ring-update";
    public const string RelayLog = "relay-log";
    public const string RelayConnected = "relay-connected";
    public const string RelayConfigUpdated = "relay-config-updated";

    /// <summary>Every name above, the most frequent first: the parser compares a frame's type against them in this
    /// order.</summary>
    internal static readonly string[] WellKnown =
    [
        Stream, Presence, Broadcast, Direct, Invoke, RingUpdate, Ack, TurnEnd, Heartbeat, Capabilities,
        CapabilitiesRequest, Auth, Error, RelayLog, RelayConnected, RelayConfigUpdated, CapabilitiesResponse,
    ];

    /// <summary>Types only the relay sends (its answer to <c>capabilities</c>): a client frame of one is refused with
    /// <see cref="ErrorCodes.ReservedType"/>, since receivers would take it for the relay's word. Not <c>error</c>: the
    /// contract routes clients' error frames to the mesh (agents report failed turns with them); one that claims to be
    /// the relay's is caught by its <c>from</c>. Compared by value, so a type spelled with escapes is caught too.</summary>
    public static bool IsRelayOnly(string type) => type is CapabilitiesResponse;

    /// <summary>Routing class of a type name; unknown names route like <c>broadcast</c>.</summary>
    public static FrameKind KindOf(string type) => type switch
    {
        Presence => FrameKind.Presence,
        Heartbeat => FrameKind.Heartbeat,
        Direct => FrameKind.Direct,
        Capabilities or CapabilitiesRequest => FrameKind.Capabilities,
        Auth => FrameKind.Auth,
        _ => FrameKind.Broadcast,
    };
}

namespace Relay.Protocol;

/// <summary>How a frame routes, derived from its <c>type</c> (protocol.md "Routing").</summary>
public enum FrameKind
{
    /// <summary><c>presence</c>: registers the connection, updates metadata, rebroadcast.</summary>
    Presence,

    /// <summary><c>heartbeat</c>: refreshes liveness, never forwarded.</summary>
    Heartbeat,

    /// <summary><c>direct</c>: delivered per the direct addressing rules.</summary>
    Direct,

    /// <summary><c>capabilities</c> or <c>capabilities_request</c>: answered to the sender only.</summary>
    Capabilities,

    /// <summary><c>auth</c>: carries a token, handled by the relay, never forwarded.</summary>
    Auth,

    /// <summary>Every other type (broadcast, stream, ack, invoke, ring-update, unknown types...).</summary>
    Broadcast,
}

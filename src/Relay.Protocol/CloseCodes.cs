using System.Net.WebSockets;

namespace Relay.Protocol;

/// <summary>
/// WebSocket close codes the relay sends. Real clients never reconnect, so the relay closes only
/// in these cases (protocol.md "Keep sockets open").
/// </summary>
public static class CloseCodes
{
    /// <summary>1000: orderly close, e.g. answering a client's own close.</summary>
    public const WebSocketCloseStatus Normal = WebSocketCloseStatus.NormalClosure;

    /// <summary>1008: authentication failed: a bad, late or missing first-frame token, or (when the relay is
    /// configured to close at expiry) the connection's token expired; or the connection registered no peer within the
    /// registration timeout. The close reason says which.</summary>
    public const WebSocketCloseStatus PolicyViolation = WebSocketCloseStatus.PolicyViolation;

    /// <summary>1009: the client sent a frame larger than the maximum frame size.</summary>
    public const WebSocketCloseStatus MessageTooBig = WebSocketCloseStatus.MessageTooBig;

    /// <summary>1012 (Service Restart): the node is draining for shutdown.</summary>
    public const WebSocketCloseStatus ServiceRestart = (WebSocketCloseStatus)1012;

    /// <summary>1013 (Try Again Later): the consumer made no progress draining its queue for the stale timeout; or,
    /// auth on, a first-frame token could not be checked because the identity provider is unreachable, or its mesh
    /// would go over a mesh limit (of the node, the address or the principal).</summary>
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;
}

using System.Net.WebSockets;

namespace Relay.Gateway.Authentication;

/// <summary>What a connection's token refresh and expiry need of the connection (implemented by
/// <see cref="Connections.RelayConnection"/>).</summary>
internal interface IAuthenticatedConnection
{
    string MeshName { get; }

    /// <summary>Who the connection authenticated as.</summary>
    ConnectionPrincipal? Principal { get; }

    bool IsClosing { get; }

    /// <summary>Binds a (fresher) principal and its token to the connection.</summary>
    void Authenticate(ConnectionPrincipal principal, string token);

    /// <summary>Asks the connection to close with <paramref name="status"/> after what is already queued for it.</summary>
    void RequestClose(WebSocketCloseStatus status, string reason, bool drainFirst = true);

    /// <summary>Drops the transport at once.</summary>
    void Abort();
}

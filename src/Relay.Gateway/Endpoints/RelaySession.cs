using System.Diagnostics;
using System.Net.WebSockets;
using Relay.Gateway.Authentication;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Endpoints;

/// <summary>An accepted relay WebSocket and what its admission took (a connection slot, a mesh claim, a place in its
/// mesh), handed from <see cref="RelayWebSocketHandler.AdmitAsync"/> to <see cref="RelayWebSocketHandler.RunAsync"/>.
/// It holds nothing of the HTTP request it came from.</summary>
internal sealed class RelaySession(
    RelayConnection connection,
    WebSocket socket,
    MeshView mesh,
    ConnectionPrincipal? principal,
    string? token,
    Activity? upgrade,
    ConnectionAdmission.Slot slot,
    MeshQuota.Claim claim)
{
    private Activity? _upgrade = upgrade;

    public RelayConnection Connection { get; } = connection;

    public WebSocket Socket { get; } = socket;

    public MeshView Mesh { get; } = mesh;

    /// <summary>Who the upgrade or first frame authenticated; null with auth off.</summary>
    public ConnectionPrincipal? Principal { get; } = principal;

    public string? Token { get; } = token;

    /// <summary>Ends the upgrade's span, tagged with the connection it became (once; the session's run calls this, then
    /// <see cref="Release"/> again).</summary>
    public void EndUpgrade()
    {
        if (_upgrade is not { } upgrade) return;
        _upgrade = null;
        if (upgrade.IsAllDataRequested)
        {
            upgrade.SetTag("relay.mesh", Mesh.Name);
            upgrade.SetTag("relay.connection.id", Connection.Id);
        }
        upgrade.Dispose();
    }

    /// <summary>Gives back the mesh claim and the connection slot (the caller leaves the mesh).</summary>
    public void Release()
    {
        EndUpgrade();
        claim.Dispose();
        slot.Dispose();
    }
}

using Relay.Gateway.Connections;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// Applies to this node's mesh views what other nodes say: the items of other gateways' links (their clients' frames,
/// and their connections joining, updating and leaving), and peer grains' reaps of connections whose gateways stopped
/// reporting. Membership changes are made, and announced to this node's clients, under the mesh's lock.
/// </summary>
internal sealed class RemoteMeshUpdates(ConnectionRegistry connections)
{
    /// <summary>An item of <paramref name="source"/>'s link; <paramref name="receivedAt"/>: when its batch arrived here
    /// (the delivery latency of frames from other nodes starts there: clocks of two processes do not compare).</summary>
    public void Apply(MeshView mesh, string source, LinkItem item, long receivedAt)
    {
        var membership = mesh.Membership;
        switch (item.Kind)
        {
            case LinkItemKind.Broadcast:
                mesh.FanOut.ToLocalMembers(item.PeerId, OutboundFrame.Wrap(item.Frame!), droppable: true, item.EchoHash, receivedAt);
                return;
            case LinkItemKind.ToPeer:
                if (membership.TryGet(item.Target!, out var target)) MeshFanOut.ToLocalConnections(target, OutboundFrame.Wrap(item.Frame!), receivedAt);
                return;
            case LinkItemKind.ToConnection:
                if (connections.TryGet(item.TargetConnection, out var one) && one!.Registered && one.MeshName == mesh.Name)
                {
                    MeshFanOut.Deliver(one, OutboundFrame.Wrap(item.Frame!), droppable: false, echoHash: 0, receivedAt);
                }
                return;
        }

        lock (membership.Lock)
        {
            var key = new ConnectionKey(source, item.ConnectionId);
            switch (item.Kind)
            {
                case LinkItemKind.Joined:
                case LinkItemKind.Updated:
                    if (membership.IsDeparted(item.PeerId, item.Incarnation)) return;
                    // The source serves this mesh. The mesh grain says so too (GatewayJoinedMesh), but on the gateway's
                    // stream, which the link's direct call can overtake: without this, the newcomer could hear of this
                    // node's members and miss their broadcasts until that event arrived.
                    membership.MergeGateway(source);
                    membership.AddRemote(item.PeerId, item.Incarnation, key, item.Agents, item.Metadata ?? "{}"u8.ToArray(), item.LastSeen);
                    mesh.FanOut.ToLocalMembers(item.PeerId, OutboundFrame.Wrap(item.Frame!), droppable: false, echoHash: 0);
                    return;
                case LinkItemKind.Left:
                    membership.RemoveRemote(item.PeerId, [key]);
                    return;
                case LinkItemKind.Offline:
                    RemoteOffline(mesh, item.PeerId, item.Incarnation, item.Frame!);
                    return;
            }
        }
    }

    /// <summary>A peer grain expired connections (their gateways stopped reporting): forget the remote ones and,
    /// when the peer has none left anywhere, announce offline. Local ones are unregistered by the caller first.</summary>
    public static void ApplyExpired(MeshView mesh, PeerReaped reaped, double now)
    {
        lock (mesh.Membership.Lock)
        {
            // An offline takes every remote connection of the peer with it (and announces it); a partial expiry
            // only forgets the listed ones.
            if (reaped.Offline) RemoteOffline(mesh, reaped.PeerId, reaped.Incarnation, RelayFrames.Offline(reaped.PeerId, now));
            else mesh.Membership.RemoveRemote(reaped.PeerId, reaped.Connections);
        }
    }

    /// <summary>Whether this gateway knew the reaped peer: as a member of its view, or through a connection of its own
    /// that the reap names (the view may have dropped it already, unannounced, by this node's sweep).</summary>
    public static bool KnewOf(MeshView mesh, PeerReaped reaped)
    {
        lock (mesh.Membership.Lock)
        {
            return mesh.Membership.IsOnlinePeer(reaped.PeerId) || Array.Exists(reaped.Connections, c => c.GatewayId == mesh.GatewayId);
        }
    }

    private static void RemoteOffline(MeshView mesh, string peerId, long incarnation, byte[] offline)
    {
        var membership = mesh.Membership;
        if (membership.TryGet(peerId, out var peer))
        {
            if (peer.Incarnation > incarnation || peer.Local.Length > 0)
            {
                // It came back since; connections of the incarnation that ended are gone all the same.
                membership.ForgetRemoteUpTo(peer, incarnation);
                return;
            }
            membership.Forget(peer);
        }
        else if (membership.IsDeparted(peerId, incarnation))
        {
            return; // announced here already
        }
        // Otherwise forgotten here but never announced: this node's sweep reaped the connection after the peer grain
        // had already expired its lease (so the grain answered "nothing to announce"), and this is the grain's
        // announcement arriving. It is still the only offline this node sends for that incarnation.
        membership.MarkDeparted(peerId, incarnation);
        mesh.FanOut.ToLocalMembers(peerId, OutboundFrame.Wrap(offline), droppable: false, echoHash: 0);
    }
}

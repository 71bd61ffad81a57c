using System.Diagnostics;
using Relay.Gateway.Connections;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// Sends frames to the members of one mesh: this node's registered connections, and, on the links, the other
/// gateways that hold the others. Reads the mesh's <see cref="MeshMembership"/> without locking. Queues take their own
/// references to a frame; other gateways get a copy. <c>receivedAt</c> (here and below): when the client frame was
/// received, for the delivery latency (0: not measured).
/// </summary>
internal sealed class MeshFanOut(string mesh, MeshMembership membership, IGatewayLinks links)
{
    /// <summary>Sends a client's frame to every registered connection of the mesh except the sender peer's own.</summary>
    public void Broadcast(RelayConnection sender, OutboundFrame frame, ulong echoHash, long receivedAt)
    {
        ToLocalMembers(sender.PeerId!, frame, droppable: true, echoHash, receivedAt);
        var gateways = membership.Gateways;
        if (gateways.Length == 0) return;
        var item = new LinkItem(LinkItemKind.Broadcast, mesh, sender.PeerId!, sender.Incarnation, sender.Id, frame.ToArray(), EchoHash: echoHash);
        foreach (var gateway in gateways) links.Send(gateway, item);
    }

    /// <summary>Sends a direct frame to every connection of one peer, wherever they are.</summary>
    public void DeliverToPeer(RelayConnection sender, string peerId, OutboundFrame frame, long receivedAt)
    {
        if (!membership.TryGet(peerId, out var peer)) return;
        ToLocalConnections(peer, frame, receivedAt);
        var remote = peer.Remote;
        if (remote.Length == 0) return;
        var item = new LinkItem(LinkItemKind.ToPeer, mesh, sender.PeerId!, sender.Incarnation, sender.Id, frame.ToArray(), Target: peerId);
        for (var i = 0; i < remote.Length; i++)
        {
            var gateway = remote[i].Key.GatewayId;
            if (!SeenBefore(remote, i, gateway)) links.Send(gateway, item);
        }
    }

    /// <summary>Sends a direct frame to one connection, here or on another gateway.</summary>
    public void DeliverToMember(RelayConnection sender, MeshMember member, OutboundFrame frame, long receivedAt)
    {
        switch (member)
        {
            case RelayConnection local:
                Deliver(local, frame, droppable: false, echoHash: 0, receivedAt);
                break;
            case RemoteMember remote:
                links.Send(remote.Key.GatewayId, new LinkItem(LinkItemKind.ToConnection, mesh, sender.PeerId!, sender.Incarnation,
                    sender.Id, frame.ToArray(), Target: remote.PeerId, TargetConnection: remote.Key.ConnectionId));
                break;
        }
    }

    /// <summary>Sends a frame to this node's connections of one peer.</summary>
    public static void ToLocalConnections(MeshMembership.Peer peer, OutboundFrame frame, long receivedAt)
    {
        foreach (var connection in peer.Local) Deliver(connection, frame, droppable: false, echoHash: 0, receivedAt);
    }

    /// <summary>Sends a frame to every registered connection of this node in the mesh except <paramref name="senderPeerId"/>'s.
    /// <paramref name="echoHash"/> (not 0): recorded for each recipient's echo suppression.</summary>
    public void ToLocalMembers(string senderPeerId, OutboundFrame frame, bool droppable, ulong echoHash, long receivedAt = 0)
    {
        var now = echoHash != 0 ? Stopwatch.GetTimestamp() : 0;
        foreach (var member in membership.Members)
        {
            if (string.Equals(member.PeerId, senderPeerId, StringComparison.Ordinal)) continue;
            Deliver(member, frame, droppable, echoHash, now, receivedAt);
        }
    }

    /// <summary>Puts an item on the link of every other gateway that serves the mesh.</summary>
    public void ToGateways(LinkItem item)
    {
        foreach (var gateway in membership.Gateways) links.Send(gateway, item);
    }

    public static void Deliver(RelayConnection connection, OutboundFrame frame, bool droppable, ulong echoHash, long receivedAt = 0) =>
        Deliver(connection, frame, droppable, echoHash, echoHash != 0 ? Stopwatch.GetTimestamp() : 0, receivedAt);

    private static void Deliver(RelayConnection connection, OutboundFrame frame, bool droppable, ulong echoHash, long now, long receivedAt)
    {
        if (echoHash != 0) connection.Echo?.RecordDelivered(echoHash, now);
        connection.Send(frame, droppable, receivedAt);
    }

    private static bool SeenBefore(RemoteMember[] members, int index, string gateway)
    {
        for (var i = 0; i < index; i++) if (members[i].Key.GatewayId == gateway) return true;
        return false;
    }
}

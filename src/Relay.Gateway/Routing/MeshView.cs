using Relay.Gateway.Connections;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// One mesh as this gateway sees it: who is in it (<see cref="Membership"/>), how frames reach them
/// (<see cref="FanOut"/>), and the changes this node makes to it: its connections registering, updating their
/// presence and leaving, and what the mesh grain told it when it opened the mesh. (What other gateways and peer grains
/// say about the mesh is applied by <see cref="RemoteMeshUpdates"/>.) A change is announced inside the membership
/// lock, so that the snapshot and the announcements stay consistent with it ("never a word about the departed"); what
/// it means for the other gateways is put on their links inside the same lock, so they see changes in the order this
/// node made them.
/// </summary>
internal sealed class MeshView
{
    public MeshView(string name, string gatewayId, IGatewayLinks links)
    {
        Name = name;
        GatewayId = gatewayId;
        Membership = new MeshMembership(gatewayId);
        FanOut = new MeshFanOut(name, Membership, links);
    }

    public string Name { get; }

    /// <summary>This gateway's id.</summary>
    public string GatewayId { get; }

    public MeshMembership Membership { get; }

    public MeshFanOut FanOut { get; }

    /// <summary>Connections open in this mesh on this node, registered or not (kept by <see cref="MeshRegistry"/>).</summary>
    public int OpenConnections { get; set; }

    /// <summary>Set once the mesh grain has been told this gateway serves the mesh (see <see cref="PeerMembership"/>).</summary>
    public Task? Opening { get; set; }

    // ---- what the mesh grain says -------------------------------------------------------------------------

    /// <summary>The roster and gateways read when this gateway opened the mesh.</summary>
    public void Load(MeshSnapshot snapshot)
    {
        lock (Membership.Lock)
        {
            foreach (var entry in snapshot.Roster)
            {
                if (Membership.IsDeparted(entry.PeerId, entry.Incarnation)) continue;
                foreach (var connection in entry.Connections)
                {
                    if (connection.Key.GatewayId == GatewayId) continue;
                    Membership.AddRemote(entry.PeerId, entry.Incarnation, connection.Key, connection.Agents, entry.Metadata, entry.LastSeen);
                }
            }
            Membership.MergeGateways(snapshot.Gateways);
        }
    }

    public void MergeGateways(string[] gateways)
    {
        lock (Membership.Lock) Membership.MergeGateways(gateways);
    }

    public void ForgetGateway(string gateway)
    {
        lock (Membership.Lock) Membership.ForgetGateway(gateway);
    }

    /// <summary>The peers with connections on this gateway, as the mesh grain's roster holds them.</summary>
    public RosterEntry[] LocalRoster()
    {
        lock (Membership.Lock)
        {
            // Loops, not LINQ: every mesh of the node is restated every 10 s, and a closure and two iterators per peer
            // were a tenth of a quiet node's allocations at 18,000 peers.
            var entries = new List<RosterEntry>(Membership.PeerCount);
            foreach (var peer in Membership.Peers)
            {
                var local = peer.Local;
                if (local.Length == 0) continue;
                var connections = new MemberConnection[local.Length];
                for (var i = 0; i < local.Length; i++) connections[i] = new MemberConnection(new ConnectionKey(GatewayId, local[i].Id), local[i].Agents);
                entries.Add(new RosterEntry(peer.PeerId, peer.Metadata, peer.LastSeen, peer.Incarnation, connections));
            }
            return [.. entries];
        }
    }

    /// <summary>The peers online here only through other gateways' connections, with the incarnation this view knows:
    /// those a lost reap would leave here for good. At most <see cref="PeerIncarnation.MaxPerRefresh"/>, chosen at random
    /// when there are more, so that each is named at some refresh.</summary>
    public PeerIncarnation[] RemoteOnlyPeers()
    {
        PeerIncarnation[] peers;
        lock (Membership.Lock)
        {
            peers = [.. Membership.Peers.Where(p => p.Local.Length == 0 && p.Remote.Length > 0).Select(p => new PeerIncarnation(p.PeerId, p.Incarnation))];
        }
        if (peers.Length <= PeerIncarnation.MaxPerRefresh) return peers;
        Random.Shared.Shuffle(peers);
        return peers[..PeerIncarnation.MaxPerRefresh];
    }

    /// <summary>The peers with a connection on <paramref name="gatewayId"/> (another gateway), as its links and the
    /// mesh grain told this one.</summary>
    public string[] PeersOn(string gatewayId)
    {
        lock (Membership.Lock)
        {
            return [.. Membership.Peers.Where(p => Array.Exists(p.Remote, m => m.Key.GatewayId == gatewayId)).Select(p => p.PeerId)];
        }
    }

    /// <summary>The other gateways that hold connections of this mesh's members, as its links and the mesh grain told
    /// this one.</summary>
    public string[] RemoteGateways()
    {
        lock (Membership.Lock)
        {
            var gateways = new HashSet<string>(StringComparer.Ordinal);
            foreach (var peer in Membership.Peers)
            {
                foreach (var connection in peer.Remote) gateways.Add(connection.Key.GatewayId);
            }
            return [.. gateways];
        }
    }

    // ---- this node's members ------------------------------------------------------------------------------

    /// <summary>
    /// Registers a connection (its first presence, or its first after being reaped): sends it the snapshot of
    /// every other peer, adds it, then announces its presence to everybody else, here and on other gateways.
    /// </summary>
    public void Register(RelayConnection connection, byte[] metadata, double now, long incarnation, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (Membership.Lock)
        {
            foreach (var other in Membership.Peers)
            {
                if (other.PeerId == peerId || other.IsEmpty) continue;
                other.SnapshotFrame ??= OutboundFrame.Wrap(RelayFrames.Presence(other.PeerId, other.Metadata, other.LastSeen));
                connection.Send(other.SnapshotFrame, droppable: false);
            }

            Membership.AddLocal(connection, incarnation, metadata, now);
            connection.Registered = true;
            FanOut.ToLocalMembers(peerId, OutboundFrame.Wrap(announcement), droppable: false, echoHash: 0);
            FanOut.ToGateways(new LinkItem(LinkItemKind.Joined, Name, peerId, incarnation, connection.Id, announcement,
                Agents: connection.Agents, Metadata: metadata, LastSeen: now));
        }
    }

    /// <summary>A later presence of a registered connection: new metadata (if any) and the rebroadcast.</summary>
    public void Update(RelayConnection connection, byte[] metadata, double now, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (Membership.Lock)
        {
            if (Membership.TryGet(peerId, out var peer)) MeshMembership.SetMetadata(peer, metadata, now);
            Membership.UpdateAgents(connection);
            FanOut.ToLocalMembers(peerId, OutboundFrame.Wrap(announcement), droppable: false, echoHash: 0);
            FanOut.ToGateways(new LinkItem(LinkItemKind.Updated, Name, peerId, connection.Incarnation, connection.Id, announcement,
                Agents: connection.Agents, Metadata: metadata, LastSeen: now));
        }
    }

    /// <summary>Room for <paramref name="peerId"/> within <paramref name="maxPeers"/>: always for a peer the mesh
    /// has (another connection of it); for a new one, a reservation that <see cref="Register"/> turns into the peer,
    /// or <see cref="Unreserve"/> gives back when the registration failed. False: the mesh is full.</summary>
    public bool TryReserve(string peerId, int maxPeers)
    {
        lock (Membership.Lock) return Membership.TryReserve(peerId, maxPeers);
    }

    public void Unreserve(string peerId)
    {
        lock (Membership.Lock) Membership.Unreserve(peerId);
    }

    /// <summary>Removes a registered connection. Returns true when its peer has no connection left here.</summary>
    public bool Remove(RelayConnection connection)
    {
        lock (Membership.Lock)
        {
            connection.Registered = false;
            return Membership.RemoveLocal(connection);
        }
    }

    /// <summary>After <see cref="Remove"/>, what the peer grain decided: the peer went offline (announce it here
    /// and on the other gateways, unless it registered here again meanwhile), or it keeps other connections.</summary>
    public void Left(RelayConnection connection, PeerLeave leave, double now)
    {
        var peerId = connection.PeerId!;
        lock (Membership.Lock)
        {
            Membership.MergeGateways(leave.Gateways);
            Membership.TryGet(peerId, out var peer);
            // A newer incarnation with no connection here: the peer registered again on another gateway while the peer
            // grain answered, and that link's Joined came first. Nothing departed then either.
            var cameBackElsewhere = peer is { Local.Length: 0 } && peer.Incarnation > leave.Incarnation;
            if (!leave.WentOffline || cameBackElsewhere)
            {
                // The others only forget this connection.
                FanOut.ToGateways(new LinkItem(LinkItemKind.Left, Name, peerId, leave.Incarnation, connection.Id, null));
                return;
            }
            if (peer is not null)
            {
                if (peer.Local.Length > 0) return; // registered here again meanwhile: nothing departed
                Membership.Forget(peer);
            }
            else if (Membership.IsDeparted(peerId, leave.Incarnation))
            {
                return; // the peer grain's own reap of this incarnation was announced here already
            }
            Membership.MarkDeparted(peerId, leave.Incarnation);
            var offline = RelayFrames.Offline(peerId, now);
            FanOut.ToLocalMembers(peerId, OutboundFrame.Wrap(offline), droppable: false, echoHash: 0);
            FanOut.ToGateways(new LinkItem(LinkItemKind.Offline, Name, peerId, leave.Incarnation, connection.Id, offline));
        }
    }

    /// <summary>After <see cref="Remove"/> of a connection closed for a restart: the other gateways forget it
    /// (a <see cref="LinkItemKind.Left"/>: no client hears anything), while its peer stays online on its lease.</summary>
    public void HandedOver(RelayConnection connection)
    {
        lock (Membership.Lock) FanOut.ToGateways(new LinkItem(LinkItemKind.Left, Name, connection.PeerId!, connection.Incarnation, connection.Id, null));
    }
}

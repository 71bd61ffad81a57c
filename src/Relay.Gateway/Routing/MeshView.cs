using System.Collections.Concurrent;
using System.Diagnostics;
using Relay.Gateway.Cluster;
using Relay.Gateway.Connections;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// One mesh as this gateway sees it: the connections it holds, and the connections of other gateways that
/// their links told it about. Per-message paths (fan-out, direct, addressing) read copy-on-write arrays without
/// locking; membership changes take the mesh lock, and so do the snapshot and the announcements that must stay
/// consistent with them ("never a word about the departed"). What a local change means for the other gateways
/// of the mesh is put on their links inside the same lock, so they see changes in the order this node made them.
/// </summary>
internal sealed class MeshView(string name, string gatewayId, GatewayLinks links) : IAgentDirectory<MeshMember>
{
    private const int MaxDeparted = 10_000;

    private sealed class PeerEntry(string peerId)
    {
        public string PeerId { get; } = peerId;
        public RelayConnection[] Local = [];
        public RemoteMember[] Remote = [];
        public byte[] Metadata = "{}"u8.ToArray();
        public double LastSeen;
        public long Incarnation;

        // What newcomers' snapshots carry for this peer, built once per presence rather than once per newcomer.
        public OutboundFrame? SnapshotFrame;

        public bool IsEmpty => Local.Length == 0 && Remote.Length == 0;
    }

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, PeerEntry> _peers = new(StringComparer.Ordinal);

    // New peer ids between the limit check and their registration (which awaits the peer grain), counted against
    // the limit so that concurrent registrations cannot go over it together.
    private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
    private RelayConnection[] _members = [];
    private RemoteMember[] _remoteMembers = [];
    private string[] _gateways = [];

    // Peers announced offline, with the incarnation that ended: late news about that incarnation, arriving on
    // another gateway's link, must not bring them back. Bounded; oldest forgotten first.
    private readonly Dictionary<string, long> _departed = new(StringComparer.Ordinal);
    private readonly Queue<string> _departedOrder = new();

    public string Name { get; } = name;

    /// <summary>Connections open in this mesh on this node, registered or not (kept by <see cref="MeshRegistry"/>).</summary>
    public int OpenConnections { get; set; }

    /// <summary>Set once the mesh grain has been told this gateway serves the mesh (see <see cref="PeerMembership"/>).</summary>
    public Task? Opening { get; set; }

    public int PeerCount => _peers.Count;

    public RelayConnection[] Members => Volatile.Read(ref _members);

    public IEnumerable<string> PeerIds => _peers.Keys;

    public bool IsOnlinePeer(string peerId) => _peers.ContainsKey(peerId);

    /// <summary>The other gateways this node knows to serve the mesh.</summary>
    public string[] Gateways => Volatile.Read(ref _gateways);

    /// <summary>The online peers, read without the lock (for the dashboard: a moment's inconsistency is harmless).</summary>
    public IEnumerable<PeerSummary> Peers()
    {
        foreach (var entry in _peers.Values)
        {
            if (!entry.IsEmpty) yield return new PeerSummary(entry.PeerId, entry.Metadata, entry.Local.Length, entry.Remote.Length, entry.LastSeen);
        }
    }

    public void FindAgentListings(string agent, List<AgentListing<MeshMember>> into)
    {
        foreach (var member in Members) AddIfListed(member, agent, into);
        foreach (var member in Volatile.Read(ref _remoteMembers)) AddIfListed(member, agent, into);
    }

    /// <summary>Agents listed by the latest presences of every registered connection of the mesh.</summary>
    public SortedSet<string> ActiveAgents()
    {
        var agents = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var member in Members) if (member.Agents is { } listed) agents.UnionWith(listed);
        foreach (var member in Volatile.Read(ref _remoteMembers)) if (member.Agents is { } listed) agents.UnionWith(listed);
        return agents;
    }

    // ---- what the mesh grain says -------------------------------------------------------------------------

    /// <summary>The roster and gateways read when this gateway opened the mesh.</summary>
    public void Load(MeshSnapshot snapshot)
    {
        lock (_lock)
        {
            foreach (var entry in snapshot.Roster)
            {
                if (IsDeparted(entry.PeerId, entry.Incarnation)) continue;
                foreach (var connection in entry.Connections)
                {
                    if (connection.Key.GatewayId == gatewayId) continue;
                    AddRemote(entry.PeerId, entry.Incarnation, connection.Key, connection.Agents, entry.Metadata, entry.LastSeen);
                }
            }
            MergeGatewaysLocked(snapshot.Gateways);
        }
    }

    public void MergeGateways(string[] gateways)
    {
        lock (_lock) MergeGatewaysLocked(gateways);
    }

    public void ForgetGateway(string gateway)
    {
        lock (_lock) _gateways = Array.FindAll(_gateways, g => g != gateway);
    }

    /// <summary>The peers with connections on this gateway, as the mesh grain's roster holds them.</summary>
    public RosterEntry[] LocalRoster()
    {
        lock (_lock)
        {
            var entries = new List<RosterEntry>();
            foreach (var entry in _peers.Values)
            {
                if (entry.Local.Length == 0) continue;
                entries.Add(new RosterEntry(entry.PeerId, entry.Metadata, entry.LastSeen, entry.Incarnation,
                    [.. entry.Local.Select(c => new MemberConnection(new ConnectionKey(gatewayId, c.Id), c.Agents))]));
            }
            return [.. entries];
        }
    }

    // ---- local membership ---------------------------------------------------------------------------------

    /// <summary>
    /// Registers a connection (its first presence, or its first after being reaped): sends it the snapshot of
    /// every other peer, adds it, then announces its presence to everybody else, here and on other gateways.
    /// </summary>
    public void Register(RelayConnection connection, byte[] metadata, double now, long incarnation, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            foreach (var other in _peers.Values)
            {
                if (other.PeerId == peerId || other.IsEmpty) continue;
                other.SnapshotFrame ??= OutboundFrame.Wrap(RelayFrames.Presence(other.PeerId, other.Metadata, other.LastSeen));
                connection.Send(other.SnapshotFrame, droppable: false);
            }

            _departed.Remove(peerId);
            _reserved.Remove(peerId); // counted as a peer from now on, not twice
            var entry = _peers.GetOrAdd(peerId, static id => new PeerEntry(id));
            entry.Local = [.. entry.Local, connection];
            entry.Incarnation = Math.Max(entry.Incarnation, incarnation);
            SetMetadata(entry, metadata, now);
            _members = [.. _members, connection];
            connection.Registered = true;
            FanOut(peerId, OutboundFrame.Wrap(announcement), droppable: false, echoHash: 0);
            ToGateways(new LinkItem(LinkItemKind.Joined, Name, peerId, incarnation, connection.Id, announcement,
                Agents: connection.Agents, Metadata: metadata, LastSeen: now));
        }
    }

    /// <summary>A later presence of a registered connection: new metadata (if any) and the rebroadcast.</summary>
    public void Update(RelayConnection connection, byte[] metadata, double now, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            if (_peers.TryGetValue(peerId, out var entry)) SetMetadata(entry, metadata, now);
            FanOut(peerId, OutboundFrame.Wrap(announcement), droppable: false, echoHash: 0);
            ToGateways(new LinkItem(LinkItemKind.Updated, Name, peerId, connection.Incarnation, connection.Id, announcement,
                Agents: connection.Agents, Metadata: metadata, LastSeen: now));
        }
    }

    /// <summary>Room for <paramref name="peerId"/> within <paramref name="maxPeers"/>: always for a peer the mesh
    /// has (another connection of it); for a new one, a reservation that <see cref="Register"/> turns into the peer,
    /// or <see cref="Unreserve"/> gives back when the registration failed. False: the mesh is full.</summary>
    public bool TryReserve(string peerId, int maxPeers)
    {
        lock (_lock)
        {
            if (_peers.ContainsKey(peerId)) return true;
            if (_peers.Count + _reserved.Count >= maxPeers) return false;
            _reserved.Add(peerId);
            return true;
        }
    }

    public void Unreserve(string peerId)
    {
        lock (_lock) _reserved.Remove(peerId);
    }

    /// <summary>Removes a registered connection. Returns true when its peer has no connection left here.</summary>
    public bool Remove(RelayConnection connection)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            connection.Registered = false;
            _members = Without(_members, connection);
            if (!_peers.TryGetValue(peerId, out var entry)) return true;
            entry.Local = Without(entry.Local, connection);
            if (entry.IsEmpty) _peers.TryRemove(peerId, out _);
            return entry.Local.Length == 0;
        }
    }

    /// <summary>After <see cref="Remove"/>, what the peer grain decided: the peer went offline (announce it here
    /// and on the other gateways, unless it registered here again meanwhile), or it keeps other connections.</summary>
    public void Left(RelayConnection connection, PeerLeave leave, double now)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            MergeGatewaysLocked(leave.Gateways);
            _peers.TryGetValue(peerId, out var entry);
            // A newer incarnation with no connection here: the peer registered again on another gateway while the peer
            // grain answered, and that link's Joined came first. Nothing departed then either.
            var cameBackElsewhere = entry is { Local.Length: 0 } && entry.Incarnation > leave.Incarnation;
            if (!leave.WentOffline || cameBackElsewhere)
            {
                // The others only forget this connection.
                ToGateways(new LinkItem(LinkItemKind.Left, Name, peerId, leave.Incarnation, connection.Id, null));
                return;
            }
            if (entry is not null)
            {
                if (entry.Local.Length > 0) return; // registered here again meanwhile: nothing departed
                _peers.TryRemove(peerId, out _);
                foreach (var member in entry.Remote) _remoteMembers = Without(_remoteMembers, member);
            }
            else if (IsDeparted(peerId, leave.Incarnation))
            {
                return; // the peer grain's own reap of this incarnation was announced here already
            }
            MarkDeparted(peerId, leave.Incarnation);
            var offline = RelayFrames.Offline(peerId, now);
            FanOut(peerId, OutboundFrame.Wrap(offline), droppable: false, echoHash: 0);
            ToGateways(new LinkItem(LinkItemKind.Offline, Name, peerId, leave.Incarnation, connection.Id, offline));
        }
    }

    /// <summary>After <see cref="Remove"/> of a connection closed for a restart: the other gateways forget it
    /// (a <see cref="LinkItemKind.Left"/>: no client hears anything), while its peer stays online on its lease.</summary>
    public void HandedOver(RelayConnection connection)
    {
        lock (_lock) ToGateways(new LinkItem(LinkItemKind.Left, Name, connection.PeerId!, connection.Incarnation, connection.Id, null));
    }

    // ---- traffic ------------------------------------------------------------------------------------------

    /// <summary>Sends a frame to every registered connection of the mesh except the sender peer's own. Queues take
    /// their own references to <paramref name="frame"/>; other gateways get a copy.
    /// <paramref name="receivedAt"/> (here and below): when the client frame was received, for the delivery latency.</summary>
    public void Broadcast(RelayConnection sender, OutboundFrame frame, ulong echoHash, long receivedAt)
    {
        FanOut(sender.PeerId!, frame, droppable: true, echoHash, receivedAt);
        var gateways = Volatile.Read(ref _gateways);
        if (gateways.Length == 0) return;
        var item = new LinkItem(LinkItemKind.Broadcast, Name, sender.PeerId!, sender.Incarnation, sender.Id, frame.ToArray(), EchoHash: echoHash);
        foreach (var gateway in gateways) links.Send(gateway, item);
    }

    /// <summary>Sends a direct frame to every connection of one peer, wherever they are.</summary>
    public void DeliverToPeer(RelayConnection sender, string peerId, OutboundFrame frame, long receivedAt)
    {
        if (!_peers.TryGetValue(peerId, out var entry)) return;
        foreach (var connection in entry.Local) Deliver(connection, frame, droppable: false, echoHash: 0, receivedAt);
        var remote = entry.Remote;
        if (remote.Length == 0) return;
        var item = new LinkItem(LinkItemKind.ToPeer, Name, sender.PeerId!, sender.Incarnation, sender.Id, frame.ToArray(), Target: peerId);
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
                links.Send(remote.Key.GatewayId, new LinkItem(LinkItemKind.ToConnection, Name, sender.PeerId!, sender.Incarnation,
                    sender.Id, frame.ToArray(), Target: remote.PeerId, TargetConnection: remote.Key.ConnectionId));
                break;
        }
    }

    public static void Deliver(RelayConnection connection, OutboundFrame frame, bool droppable, ulong echoHash, long receivedAt = 0) =>
        Deliver(connection, frame, droppable, echoHash, echoHash != 0 ? Stopwatch.GetTimestamp() : 0, receivedAt);

    private static void Deliver(RelayConnection connection, OutboundFrame frame, bool droppable, ulong echoHash, long now, long receivedAt)
    {
        if (echoHash != 0) connection.Echo?.RecordDelivered(echoHash, now);
        connection.Send(frame, droppable, receivedAt);
    }

    // ---- what other gateways' links say -------------------------------------------------------------------

    /// <summary>An item of another gateway's link; <paramref name="receivedAt"/>: when its batch arrived here (the
    /// delivery latency of frames from other nodes starts there: clocks of two processes do not compare).</summary>
    public void Apply(string source, LinkItem item, ConnectionRegistry connections, long receivedAt)
    {
        switch (item.Kind)
        {
            case LinkItemKind.Broadcast:
                FanOut(item.PeerId, OutboundFrame.Wrap(item.Frame!), droppable: true, item.EchoHash, receivedAt);
                return;
            case LinkItemKind.ToPeer:
                if (_peers.TryGetValue(item.Target!, out var target))
                {
                    var frame = OutboundFrame.Wrap(item.Frame!);
                    foreach (var connection in target.Local) Deliver(connection, frame, droppable: false, echoHash: 0, receivedAt);
                }
                return;
            case LinkItemKind.ToConnection:
                if (connections.TryGet(item.TargetConnection, out var one) && one!.Registered && ReferenceEquals(one.Mesh, this))
                {
                    Deliver(one, OutboundFrame.Wrap(item.Frame!), droppable: false, echoHash: 0, receivedAt);
                }
                return;
        }

        lock (_lock)
        {
            var key = new ConnectionKey(source, item.ConnectionId);
            switch (item.Kind)
            {
                case LinkItemKind.Joined:
                case LinkItemKind.Updated:
                    if (IsDeparted(item.PeerId, item.Incarnation)) return;
                    // The source serves this mesh. The mesh grain says so too (GatewayJoinedMesh), but on the gateway's
                    // stream, which the link's direct call can overtake: without this, the newcomer could hear of this
                    // node's members and miss their broadcasts until that event arrived.
                    MergeGatewayLocked(source);
                    AddRemote(item.PeerId, item.Incarnation, key, item.Agents, item.Metadata ?? "{}"u8.ToArray(), item.LastSeen);
                    FanOut(item.PeerId, OutboundFrame.Wrap(item.Frame!), droppable: false, echoHash: 0);
                    return;
                case LinkItemKind.Left:
                    RemoveRemote(item.PeerId, [key]);
                    return;
                case LinkItemKind.Offline:
                    RemoteOffline(item.PeerId, item.Incarnation, item.Frame!);
                    return;
            }
        }
    }

    /// <summary>A peer grain expired connections (their gateways stopped reporting): forget the remote ones and,
    /// when the peer has none left anywhere, announce offline. Local ones are unregistered by the caller first.</summary>
    public void ApplyExpired(PeerReaped reaped, double now)
    {
        lock (_lock)
        {
            // An offline takes every remote connection of the peer with it (and announces it); a partial expiry
            // only forgets the listed ones.
            if (reaped.Offline) RemoteOffline(reaped.PeerId, reaped.Incarnation, RelayFrames.Offline(reaped.PeerId, now));
            else RemoveRemote(reaped.PeerId, reaped.Connections);
        }
    }

    // ---- helpers (callers hold the lock where they change state) ------------------------------------------

    private void AddRemote(string peerId, long incarnation, ConnectionKey key, string[]? agents, byte[] metadata, double lastSeen)
    {
        var entry = _peers.GetOrAdd(peerId, static id => new PeerEntry(id));
        if (incarnation > entry.Incarnation)
        {
            // A newer incarnation: whatever was known of older ones is gone.
            foreach (var stale in entry.Remote) _remoteMembers = Without(_remoteMembers, stale);
            entry.Remote = [];
            entry.Incarnation = incarnation;
        }
        var index = Array.FindIndex(entry.Remote, m => m.Key == key);
        if (index >= 0)
        {
            entry.Remote[index].Agents = agents;
        }
        else
        {
            var member = new RemoteMember(key, peerId, incarnation, agents);
            entry.Remote = [.. entry.Remote, member];
            _remoteMembers = [.. _remoteMembers, member];
        }
        SetMetadata(entry, metadata, lastSeen);
    }

    private void RemoveRemote(string peerId, ConnectionKey[] keys)
    {
        if (!_peers.TryGetValue(peerId, out var entry)) return;
        foreach (var member in entry.Remote)
        {
            if (Array.IndexOf(keys, member.Key) < 0) continue;
            entry.Remote = Without(entry.Remote, member);
            _remoteMembers = Without(_remoteMembers, member);
        }
        if (entry.IsEmpty) _peers.TryRemove(peerId, out _);
    }

    private void RemoteOffline(string peerId, long incarnation, byte[] offline)
    {
        if (_peers.TryGetValue(peerId, out var entry))
        {
            if (entry.Incarnation > incarnation || entry.Local.Length > 0)
            {
                // It came back since; connections of the incarnation that ended are gone all the same.
                ForgetRemoteUpTo(entry, incarnation);
                if (entry.IsEmpty) _peers.TryRemove(peerId, out _);
                return;
            }
            foreach (var member in entry.Remote) _remoteMembers = Without(_remoteMembers, member);
            _peers.TryRemove(peerId, out _);
            MarkDeparted(peerId, incarnation);
            FanOut(peerId, OutboundFrame.Wrap(offline), droppable: false, echoHash: 0);
            return;
        }
        // Forgotten here but never announced: this node's sweep reaped the connection after the peer grain had
        // already expired its lease (so the grain answered "nothing to announce"), and this is the grain's
        // announcement arriving. It is still the only offline this node sends for that incarnation.
        if (IsDeparted(peerId, incarnation)) return;
        MarkDeparted(peerId, incarnation);
        FanOut(peerId, OutboundFrame.Wrap(offline), droppable: false, echoHash: 0);
    }

    private void ForgetRemoteUpTo(PeerEntry entry, long incarnation)
    {
        foreach (var member in entry.Remote)
        {
            if (member.Incarnation > incarnation) continue;
            entry.Remote = Without(entry.Remote, member);
            _remoteMembers = Without(_remoteMembers, member);
        }
    }

    private bool IsDeparted(string peerId, long incarnation) =>
        _departed.TryGetValue(peerId, out var ended) && ended >= incarnation;

    private void MarkDeparted(string peerId, long incarnation)
    {
        if (!_departed.TryGetValue(peerId, out var known)) _departedOrder.Enqueue(peerId);
        _departed[peerId] = Math.Max(known, incarnation);
        while (_departed.Count > MaxDeparted && _departedOrder.TryDequeue(out var oldest)) _departed.Remove(oldest);
    }

    private void MergeGatewaysLocked(string[] gateways)
    {
        foreach (var gateway in gateways) MergeGatewayLocked(gateway);
    }

    private void MergeGatewayLocked(string gateway)
    {
        if (gateway != gatewayId && Array.IndexOf(_gateways, gateway) < 0) _gateways = [.. _gateways, gateway];
    }

    private void ToGateways(LinkItem item)
    {
        foreach (var gateway in _gateways) links.Send(gateway, item);
    }

    private void FanOut(string senderPeerId, OutboundFrame frame, bool droppable, ulong echoHash, long receivedAt = 0)
    {
        var now = echoHash != 0 ? Stopwatch.GetTimestamp() : 0;
        foreach (var member in Members)
        {
            if (string.Equals(member.PeerId, senderPeerId, StringComparison.Ordinal)) continue;
            Deliver(member, frame, droppable, echoHash, now, receivedAt);
        }
    }

    private static void AddIfListed(MeshMember member, string agent, List<AgentListing<MeshMember>> into)
    {
        var agents = member.Agents;
        if (agents is not null && Array.IndexOf(agents, agent) >= 0) into.Add(new AgentListing<MeshMember>(member.PeerId!, member));
    }

    private static bool SeenBefore(RemoteMember[] members, int index, string gateway)
    {
        for (var i = 0; i < index; i++) if (members[i].Key.GatewayId == gateway) return true;
        return false;
    }

    private static void SetMetadata(PeerEntry entry, byte[] metadata, double now)
    {
        entry.Metadata = metadata;
        entry.LastSeen = now;
        entry.SnapshotFrame = null;
    }

    private static T[] Without<T>(T[] items, T item) where T : class
    {
        var index = Array.IndexOf(items, item);
        if (index < 0) return items;
        var result = new T[items.Length - 1];
        Array.Copy(items, 0, result, 0, index);
        Array.Copy(items, index + 1, result, index, items.Length - index - 1);
        return result;
    }
}

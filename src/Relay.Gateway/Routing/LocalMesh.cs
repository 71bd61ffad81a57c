using System.Collections.Concurrent;
using Relay.Gateway.Connections;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// One mesh as this node sees it: its registered peers and their connections. The per-message paths
/// (broadcast, direct, addressing) read copy-on-write arrays without locking; membership changes (register,
/// leave, metadata) take the mesh lock, and so do the snapshot and the announcements that must stay
/// consistent with them ("never a word about the departed").
/// </summary>
internal sealed class LocalMesh(string name) : IAgentDirectory<RelayConnection>
{
    private sealed class PeerEntry(string peerId)
    {
        public string PeerId { get; } = peerId;
        public RelayConnection[] Connections = [];
        public byte[] Metadata = "{}"u8.ToArray();
        public double LastSeen;

        // What newcomers' snapshots carry for this peer, built once per presence rather than once per newcomer.
        public byte[]? SnapshotFrame;
    }

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, PeerEntry> _peers = new(StringComparer.Ordinal);
    private RelayConnection[] _members = [];

    public string Name { get; } = name;

    /// <summary>Connections open in this mesh on this node, registered or not (kept by <see cref="MeshRegistry"/>).</summary>
    public int OpenConnections { get; set; }

    public int PeerCount => _peers.Count;

    public RelayConnection[] Members => Volatile.Read(ref _members);

    public bool IsOnlinePeer(string peerId) => _peers.ContainsKey(peerId);

    public void FindAgentListings(string agent, List<AgentListing<RelayConnection>> into)
    {
        foreach (var member in Members)
        {
            var agents = member.Agents;
            if (agents is null || !member.Registered) continue;
            if (Array.IndexOf(agents, agent) >= 0) into.Add(new AgentListing<RelayConnection>(member.PeerId!, member));
        }
    }

    public IEnumerable<string> PeerIds => _peers.Keys;

    /// <summary>
    /// Registers a connection (its first presence, or its first after being reaped): sends it the snapshot of
    /// every other peer, adds it, then announces its presence to everybody else. One lock around the three, so
    /// no other registration or offline can slip between them.
    /// </summary>
    public void Register(RelayConnection connection, byte[] metadata, double now, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            foreach (var other in _peers.Values)
            {
                if (other.PeerId == peerId) continue;
                other.SnapshotFrame ??= RelayFrames.Presence(other.PeerId, other.Metadata, other.LastSeen);
                connection.Send(other.SnapshotFrame, droppable: false);
            }

            var entry = _peers.GetOrAdd(peerId, static id => new PeerEntry(id));
            entry.Connections = [.. entry.Connections, connection];
            SetMetadata(entry, metadata, now);
            _members = [.. _members, connection];
            connection.Registered = true;
            FanOut(peerId, announcement, droppable: false, echoHash: 0);
        }
    }

    /// <summary>A later presence of a registered connection: new metadata (if any) and the rebroadcast.</summary>
    public void Update(RelayConnection connection, byte[] metadata, double now, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        lock (_lock)
        {
            if (_peers.TryGetValue(peerId, out var entry)) SetMetadata(entry, metadata, now);
            FanOut(peerId, announcement, droppable: false, echoHash: 0);
        }
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
            entry.Connections = Without(entry.Connections, connection);
            if (entry.Connections.Length > 0) return false;
            _peers.TryRemove(peerId, out _);
            return true;
        }
    }

    /// <summary>Announces that a peer went offline, unless it has registered here again meanwhile.</summary>
    public void AnnounceOffline(string peerId, double now)
    {
        lock (_lock)
        {
            if (_peers.ContainsKey(peerId)) return;
            FanOut(peerId, RelayFrames.Offline(peerId, now), droppable: false, echoHash: 0);
        }
    }

    /// <summary>Sends a frame to every registered connection of the mesh except the sender peer's own.</summary>
    public void Broadcast(string senderPeerId, byte[] frame, ulong echoHash) =>
        FanOut(senderPeerId, frame, droppable: true, echoHash);

    /// <summary>Sends a frame to every connection of one peer.</summary>
    public bool DeliverToPeer(string peerId, byte[] frame, ulong echoHash)
    {
        if (!_peers.TryGetValue(peerId, out var entry)) return false;
        foreach (var connection in entry.Connections) Deliver(connection, frame, droppable: false, echoHash);
        return true;
    }

    /// <summary>Agents listed by the latest presences of every registered connection of the mesh.</summary>
    public SortedSet<string> ActiveAgents()
    {
        var agents = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var member in Members)
        {
            if (member.Agents is { } listed) agents.UnionWith(listed);
        }
        return agents;
    }

    public static void Deliver(RelayConnection connection, byte[] frame, bool droppable, ulong echoHash)
    {
        if (echoHash != 0) connection.Echo?.RecordDelivered(echoHash, System.Diagnostics.Stopwatch.GetTimestamp());
        connection.Send(frame, droppable);
    }

    private void FanOut(string senderPeerId, byte[] frame, bool droppable, ulong echoHash)
    {
        foreach (var member in Members)
        {
            if (string.Equals(member.PeerId, senderPeerId, StringComparison.Ordinal)) continue;
            Deliver(member, frame, droppable, echoHash);
        }
    }

    private static void SetMetadata(PeerEntry entry, byte[] metadata, double now)
    {
        entry.Metadata = metadata;
        entry.LastSeen = now;
        entry.SnapshotFrame = null;
    }

    private static RelayConnection[] Without(RelayConnection[] connections, RelayConnection connection)
    {
        var index = Array.IndexOf(connections, connection);
        if (index < 0) return connections;
        var result = new RelayConnection[connections.Length - 1];
        Array.Copy(connections, 0, result, 0, index);
        Array.Copy(connections, index + 1, result, index, connections.Length - index - 1);
        return result;
    }
}

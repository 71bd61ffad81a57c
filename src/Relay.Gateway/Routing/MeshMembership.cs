using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Relay.Gateway.Connections;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// Who is in one mesh as this gateway knows it: each online peer with its connections here and on other gateways and
/// its latest presence data, the other gateways that serve the mesh, and the peers announced offline with the
/// incarnation that ended. Per-message paths read it without locking (copy-on-write arrays, a concurrent dictionary);
/// every change is made holding <see cref="Lock"/>, by <see cref="MeshView"/> (this node's members) and
/// <see cref="RemoteMeshUpdates"/> (what other nodes say).
/// </summary>
internal sealed class MeshMembership(string gatewayId) : IAgentDirectory<MeshMember>
{
    /// <summary>How many departures a mesh remembers (see <see cref="MarkDeparted"/>).</summary>
    public const int MaxDeparted = 10_000;

    /// <summary>One online peer. Its fields change under the mesh lock only.</summary>
    public sealed class Peer(string peerId)
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

    private readonly ConcurrentDictionary<string, Peer> _peers = new(StringComparer.Ordinal);

    // New peer ids between the limit check and their registration (which awaits the peer grain), counted against
    // the limit so that concurrent registrations cannot go over it together.
    private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
    private RelayConnection[] _members = [];
    private RemoteMember[] _remoteMembers = [];
    private string[] _gateways = [];

    // Agent name -> the registered connections (here and on other gateways) whose latest presence lists it, as
    // copy-on-write arrays: direct addressing reads it without the lock. Changed with the members, under the lock.
    private readonly ConcurrentDictionary<string, MeshMember[]> _listings = new(StringComparer.Ordinal);

    // What capabilities answers carry; null once the set of listed agents changed, until the next answer rebuilds it.
    private ActiveAgentsSnapshot? _activeAgents;

    // Peers announced offline, with the incarnation that ended: late news about that incarnation, arriving on
    // another gateway's link, must not bring them back. Bounded; oldest forgotten first. Each departure takes a
    // ticket: a peer that came back (its entry removed) and left again has a stale slot in the order, which forgets
    // nothing when it comes out, but counts against the bound like any other.
    private readonly Dictionary<string, (long Incarnation, long Ticket)> _departed = new(StringComparer.Ordinal);
    private readonly Queue<(string PeerId, long Ticket)> _departedOrder = new();
    private long _nextDepartureTicket;

    /// <summary>Held for every change, and by whoever must announce a change consistently with it.</summary>
    public Lock Lock { get; } = new();

    public int PeerCount => _peers.Count;

    /// <summary>The departures remembered, stale ones included: at most <see cref="MaxDeparted"/>.</summary>
    public int DeparturesRemembered => _departedOrder.Count;

    public IEnumerable<string> PeerIds => _peers.Keys;

    /// <summary>The online peers; changed only under <see cref="Lock"/>.</summary>
    public ICollection<Peer> Peers => _peers.Values;

    /// <summary>The online peers, read without the lock (for the dashboard: a moment's inconsistency is harmless).</summary>
    public IEnumerable<PeerSummary> Summaries()
    {
        foreach (var peer in _peers.Values)
        {
            if (!peer.IsEmpty) yield return new PeerSummary(peer.PeerId, peer.Metadata, peer.Local.Length, peer.Remote.Length, peer.LastSeen);
        }
    }

    /// <summary>This node's registered connections of the mesh.</summary>
    public RelayConnection[] Members => Volatile.Read(ref _members);

    /// <summary>The other gateways this node knows to serve the mesh.</summary>
    public string[] Gateways => Volatile.Read(ref _gateways);

    public bool IsOnlinePeer(string peerId) => _peers.ContainsKey(peerId);

    public bool TryGet(string peerId, [MaybeNullWhen(false)] out Peer peer) => _peers.TryGetValue(peerId, out peer);

    /// <summary>One lookup in the agent index, whatever the number of members and agents: a direct to an unknown agent
    /// costs no more than one to a known one.</summary>
    public void FindAgentListings(string agent, List<AgentListing<MeshMember>> into)
    {
        if (!_listings.TryGetValue(agent, out var listed)) return;
        foreach (var member in listed) into.Add(new AgentListing<MeshMember>(member.PeerId!, member));
    }

    /// <summary>Agents listed by the latest presences of every registered connection of the mesh, in ordinal order.</summary>
    public string[] ActiveAgents() => ActiveAgentListing().Agents;

    /// <summary><see cref="ActiveAgents"/> with its JSON array, as <c>capabilities_response</c> carries it: built once
    /// after the set of listed agents changed and shared by every answer until the next change, so that a flood of
    /// <c>capabilities</c> costs a copy of bytes per frame rather than a sort of every member's agents.</summary>
    public ActiveAgentsSnapshot ActiveAgentListing()
    {
        var cached = Volatile.Read(ref _activeAgents);
        if (cached is not null) return cached;
        lock (Lock)
        {
            if (_activeAgents is not null) return _activeAgents;
            var agents = _listings.Keys.ToArray();
            Array.Sort(agents, StringComparer.Ordinal);
            var built = new ActiveAgentsSnapshot(agents, RelayFrames.JsonStringArray(agents));
            Volatile.Write(ref _activeAgents, built);
            return built;
        }
    }

    /// <summary>After a recorded presence of a registered connection of this node: the agent index takes its agents.
    /// The caller holds <see cref="Lock"/>.</summary>
    public void UpdateAgents(RelayConnection connection)
    {
        if (connection.Registered) Index(connection, connection.Agents);
    }

    // ---- changes: the caller holds Lock ------------------------------------------------------------------

    /// <summary>Adds a connection of this node; a reservation of its peer id becomes the peer.</summary>
    public void AddLocal(RelayConnection connection, long incarnation, byte[] metadata, double now)
    {
        var peerId = connection.PeerId!;
        _departed.Remove(peerId);
        _reserved.Remove(peerId); // counted as a peer from now on, not twice
        var peer = _peers.GetOrAdd(peerId, static id => new Peer(id));
        peer.Local = [.. peer.Local, connection];
        peer.Incarnation = Math.Max(peer.Incarnation, incarnation);
        SetMetadata(peer, metadata, now);
        _members = [.. _members, connection];
        Index(connection, connection.Agents);
    }

    /// <summary>Removes a connection of this node. Returns true when its peer has no connection left here.</summary>
    public bool RemoveLocal(RelayConnection connection)
    {
        var peerId = connection.PeerId!;
        _members = Without(_members, connection);
        Index(connection, null);
        if (!_peers.TryGetValue(peerId, out var peer)) return true;
        peer.Local = Without(peer.Local, connection);
        if (peer.IsEmpty) _peers.TryRemove(peerId, out _);
        return peer.Local.Length == 0;
    }

    /// <summary>Adds (or updates the agents of) a connection another gateway holds.</summary>
    public void AddRemote(string peerId, long incarnation, ConnectionKey key, string[]? agents, byte[] metadata, double lastSeen)
    {
        var peer = _peers.GetOrAdd(peerId, static id => new Peer(id));
        if (incarnation > peer.Incarnation)
        {
            // A newer incarnation: whatever was known of older ones is gone.
            foreach (var stale in peer.Remote)
            {
                _remoteMembers = Without(_remoteMembers, stale);
                Index(stale, null);
            }
            peer.Remote = [];
            peer.Incarnation = incarnation;
        }
        var index = Array.FindIndex(peer.Remote, m => m.Key == key);
        if (index >= 0)
        {
            peer.Remote[index].Agents = agents;
            Index(peer.Remote[index], agents);
        }
        else
        {
            var member = new RemoteMember(key, peerId, incarnation, agents);
            peer.Remote = [.. peer.Remote, member];
            _remoteMembers = [.. _remoteMembers, member];
            Index(member, agents);
        }
        SetMetadata(peer, metadata, lastSeen);
    }

    /// <summary>Forgets the listed connections of other gateways (the peer too when nothing of it is left).</summary>
    public void RemoveRemote(string peerId, ConnectionKey[] keys)
    {
        if (!_peers.TryGetValue(peerId, out var peer)) return;
        foreach (var member in peer.Remote)
        {
            if (Array.IndexOf(keys, member.Key) < 0) continue;
            peer.Remote = Without(peer.Remote, member);
            _remoteMembers = Without(_remoteMembers, member);
            Index(member, null);
        }
        if (peer.IsEmpty) _peers.TryRemove(peerId, out _);
    }

    /// <summary>Forgets the connections of other gateways that belong to <paramref name="incarnation"/> or older
    /// (the peer too when nothing of it is left).</summary>
    public void ForgetRemoteUpTo(Peer peer, long incarnation)
    {
        foreach (var member in peer.Remote)
        {
            if (member.Incarnation > incarnation) continue;
            peer.Remote = Without(peer.Remote, member);
            _remoteMembers = Without(_remoteMembers, member);
            Index(member, null);
        }
        if (peer.IsEmpty) _peers.TryRemove(peer.PeerId, out _);
    }

    /// <summary>Forgets the peer with every connection other gateways hold of it.</summary>
    public void Forget(Peer peer)
    {
        _peers.TryRemove(peer.PeerId, out _);
        foreach (var member in peer.Remote)
        {
            _remoteMembers = Without(_remoteMembers, member);
            Index(member, null);
        }
    }

    /// <summary>Room for <paramref name="peerId"/> within <paramref name="maxPeers"/>: always for a peer the mesh has;
    /// for a new one, a reservation that <see cref="AddLocal"/> turns into the peer, or <see cref="Unreserve"/> gives
    /// back. False: the mesh is full.</summary>
    public bool TryReserve(string peerId, int maxPeers)
    {
        if (_peers.ContainsKey(peerId)) return true;
        if (_peers.Count + _reserved.Count >= maxPeers) return false;
        _reserved.Add(peerId);
        return true;
    }

    public void Unreserve(string peerId) => _reserved.Remove(peerId);

    /// <summary>True when the offline of <paramref name="incarnation"/> (or a later one) was announced here.</summary>
    public bool IsDeparted(string peerId, long incarnation) =>
        _departed.TryGetValue(peerId, out var ended) && ended.Incarnation >= incarnation;

    public void MarkDeparted(string peerId, long incarnation)
    {
        if (_departed.TryGetValue(peerId, out var known))
        {
            _departed[peerId] = (Math.Max(known.Incarnation, incarnation), known.Ticket);
            return;
        }

        var ticket = ++_nextDepartureTicket;
        _departed[peerId] = (incarnation, ticket);
        _departedOrder.Enqueue((peerId, ticket));
        while (_departedOrder.Count > MaxDeparted && _departedOrder.TryDequeue(out var oldest))
        {
            if (_departed.TryGetValue(oldest.PeerId, out var entry) && entry.Ticket == oldest.Ticket) _departed.Remove(oldest.PeerId);
        }
    }

    /// <summary>Adds gateways that serve the mesh (never this one).</summary>
    public void MergeGateways(string[] gateways)
    {
        foreach (var gateway in gateways) MergeGateway(gateway);
    }

    public void MergeGateway(string gateway)
    {
        if (gateway != gatewayId && Array.IndexOf(_gateways, gateway) < 0) _gateways = [.. _gateways, gateway];
    }

    public void ForgetGateway(string gateway) => _gateways = Array.FindAll(_gateways, g => g != gateway);

    public static void SetMetadata(Peer peer, byte[] metadata, double now)
    {
        peer.Metadata = metadata;
        peer.LastSeen = now;
        peer.SnapshotFrame = null;
    }

    /// <summary>Makes the agent index hold <paramref name="agents"/> for <paramref name="member"/> (null: none, it left).
    /// Only the agents that changed are touched; the capabilities listing is rebuilt only when an agent name appears
    /// or disappears, not when one more connection lists a known one. A connection's agents are bounded
    /// (<c>MaxAgentsPerPeer</c>), so this costs at most that many lookups per change.</summary>
    private void Index(MeshMember member, string[]? agents)
    {
        var old = member.IndexedAgents;
        if (ReferenceEquals(old, agents) || (old is not null && agents is not null && old.AsSpan().SequenceEqual(agents))) return;
        if (old is not null)
        {
            foreach (var agent in old)
            {
                if (agents is null || Array.IndexOf(agents, agent) < 0) Unlist(agent, member);
            }
        }
        if (agents is not null)
        {
            foreach (var agent in agents) List(agent, member);
        }
        member.IndexedAgents = agents;
    }

    private void List(string agent, MeshMember member)
    {
        if (!_listings.TryGetValue(agent, out var listed))
        {
            _listings[agent] = [member];
            Volatile.Write(ref _activeAgents, null);
        }
        else if (Array.IndexOf(listed, member) < 0)
        {
            _listings[agent] = [.. listed, member];
        }
    }

    private void Unlist(string agent, MeshMember member)
    {
        if (!_listings.TryGetValue(agent, out var listed)) return;
        var rest = Without(listed, member);
        if (rest.Length == 0)
        {
            _listings.TryRemove(agent, out _);
            Volatile.Write(ref _activeAgents, null);
        }
        else if (!ReferenceEquals(rest, listed))
        {
            _listings[agent] = rest;
        }
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

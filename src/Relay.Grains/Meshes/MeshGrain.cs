using Microsoft.Extensions.Logging;
using Relay.Grains.Contracts;

namespace Relay.Grains.Meshes;

/// <inheritdoc cref="IMeshGrain"/>
/// <remarks>
/// Kept in memory: after a silo failure the roster is rebuilt from what peer grains (whose state is persisted)
/// upsert on their next change, and gateways keep their own routing views in the meantime.
/// </remarks>
internal sealed partial class MeshGrain(ILogger<MeshGrain> logger) : Grain, IMeshGrain
{
    private readonly Dictionary<string, RosterEntry> _roster = new(StringComparer.Ordinal);

    // Gateways that opened the mesh or hold a member. A gateway that dies stops appearing in connections once
    // its leases expire; it is dropped then.
    private readonly HashSet<string> _opened = new(StringComparer.Ordinal);
    private string[] _gateways = [];

    public async Task<MeshSnapshot> Open(string gatewayId)
    {
        var others = _gateways;
        if (_opened.Add(gatewayId))
        {
            Recompute();
            await PublishAsync(others, new GatewayJoinedMesh(this.GetPrimaryKeyString(), gatewayId));
        }
        return new MeshSnapshot([.. _roster.Values], _gateways);
    }

    public async Task Close(string gatewayId)
    {
        if (!_opened.Remove(gatewayId)) return;
        Recompute();
        await PublishAsync(_gateways, new GatewayLeftMesh(this.GetPrimaryKeyString(), gatewayId));
    }

    public async Task Refresh(string gatewayId, RosterEntry[] local)
    {
        var held = local.ToDictionary(e => e.PeerId, StringComparer.Ordinal);
        foreach (var (peerId, entry) in _roster.ToArray())
        {
            if (held.ContainsKey(peerId) || !entry.Connections.Any(c => c.Key.GatewayId == gatewayId)) continue;
            var others = entry.Connections.Where(c => c.Key.GatewayId != gatewayId).ToArray();
            if (others.Length == 0) _roster.Remove(peerId);
            else _roster[peerId] = entry with { Connections = others };
        }
        foreach (var entry in local)
        {
            if (!_roster.TryGetValue(entry.PeerId, out var known) || known.Incarnation < entry.Incarnation)
            {
                await Upsert(entry);
            }
            else if (known.Incarnation == entry.Incarnation)
            {
                await Upsert(entry with { Connections = [.. known.Connections.Where(c => c.Key.GatewayId != gatewayId), .. entry.Connections] });
            }
            // A newer incarnation is known: this gateway's view is behind and will hear about it.
        }
    }

    public async Task<string[]> Upsert(RosterEntry entry)
    {
        var before = _gateways;
        _roster[entry.PeerId] = entry;
        var added = entry.Connections.Select(c => c.Key.GatewayId).Where(g => Array.IndexOf(before, g) < 0).Distinct().ToArray();
        if (added.Length > 0)
        {
            foreach (var gateway in added) _opened.Add(gateway);
            Recompute();
            foreach (var gateway in added) await PublishAsync(before, new GatewayJoinedMesh(this.GetPrimaryKeyString(), gateway));
        }
        return _gateways;
    }

    public Task<string[]> Remove(string peerId)
    {
        _roster.Remove(peerId);
        return Task.FromResult(_gateways);
    }

    public async Task Expired(string peerId, long incarnation, ConnectionKey[] connections, bool offline, RosterEntry? remaining)
    {
        if (offline || remaining is null) _roster.Remove(peerId);
        else _roster[peerId] = remaining;

        // The gateways of the expired connections are told too, even when this activation is too young to know
        // them (it lost its state with a silo): they may still hold the sockets.
        var mesh = this.GetPrimaryKeyString();
        var audience = _gateways.Union(connections.Select(c => c.GatewayId), StringComparer.Ordinal).ToArray();
        await PublishAsync(audience, new PeerReaped(mesh, peerId, incarnation, connections, offline));

        // A gateway none of whose connections is left in the roster is presumed dead: stop counting it.
        foreach (var gateway in connections.Select(c => c.GatewayId).Distinct())
        {
            if (_roster.Values.Any(e => e.Connections.Any(c => c.Key.GatewayId == gateway)) || !_opened.Remove(gateway)) continue;
            Recompute();
            await PublishAsync(_gateways, new GatewayLeftMesh(mesh, gateway));
        }
    }

    public Task GatewayLost(string reporter, string lostGateway, string[] peerIds)
    {
        // The reporter already serves the mesh and its peers know the other gateways' members through the links; a
        // young activation must only learn to tell it of the reaps to come, so nobody else needs to hear of it.
        if (_opened.Add(reporter)) Recompute();

        var mesh = this.GetPrimaryKeyString();
        var peers = new HashSet<string>(peerIds, StringComparer.Ordinal);
        foreach (var entry in _roster.Values)
        {
            if (entry.Connections.Any(c => c.Key.GatewayId == lostGateway)) peers.Add(entry.PeerId);
        }
        foreach (var peer in peers)
        {
            // One-way: a peer grain reaping right away calls Expired here, which waits for this turn to end.
            _ = GrainFactory.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, peer)).WatchLeases();
        }
        Log.GatewayLost(logger, mesh, lostGateway, peers.Count);
        return Task.CompletedTask;
    }

    public Task<RosterEntry[]> GetRoster() => Task.FromResult(_roster.Values.ToArray());

    private void Recompute() => _gateways = [.. _opened.Order(StringComparer.Ordinal)];

    private async Task PublishAsync(string[] gateways, GatewayEvent item)
    {
        var streams = this.GetStreamProvider(GatewayStreams.Provider);
        foreach (var gateway in gateways)
        {
            try
            {
                await streams.GetStream<GatewayEvent>(GatewayStreams.For(gateway)).OnNextAsync(item);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // One unreachable gateway must not keep the others from hearing about it.
                Log.PublishFailed(logger, ex, this.GetPrimaryKeyString(), gateway);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: could not tell gateway {Gateway} about a membership change")]
        public static partial void PublishFailed(ILogger logger, Exception exception, string mesh, string gateway);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Information,
            Message = "Mesh {Mesh}: gateway {Gateway} was declared dead; {Peers} peer grain(s) told to watch their leases")]
        public static partial void GatewayLost(ILogger logger, string mesh, string gateway, int peers);
    }
}

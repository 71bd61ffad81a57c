using Microsoft.Extensions.Logging;
using Relay.Grains.Contracts;

namespace Relay.Grains.Meshes;

/// <inheritdoc cref="IMeshGrain"/>
/// <remarks>
/// The roster is kept in memory: after a silo failure it is rebuilt from what gateways restate (<see cref="Refresh"/>)
/// and peer grains upsert on their next change, and gateways keep their own routing views in the meantime. The
/// gateways serving the mesh are persisted (<see cref="MeshState"/>), so that a re-activated grain tells all of them
/// of the reaps it decides before they have restated.
/// </remarks>
internal sealed partial class MeshGrain(
    [PersistentState("mesh", GatewayStreams.Storage)] IPersistentState<MeshState> state,
    TimeProvider time,
    ILogger<MeshGrain> logger) : Grain, IMeshGrain
{
    // Long enough for every live gateway to have restated its peers (they do every 10 s): a gateway loaded from storage
    // that has not by then, and holds no member, died while this grain was away.
    internal static readonly TimeSpan UnconfirmedGatewayGrace = TimeSpan.FromSeconds(45);

    // Long enough for every gateway to restate its peers at least twice (every 10 s) after a reap, so that one whose
    // stream lost it hears of it from the answer; bounded, so that a mesh with a burst of reaps keeps the latest.
    internal static readonly TimeSpan ReapReplayWindow = TimeSpan.FromSeconds(30);
    internal const int MaxRecentReaps = 256;

    // Peer grains asked per refresh about peers a gateway believes online and the roster lacks. Right after this grain
    // re-activated, that is every remote peer a gateway holds until their own gateways restate them (within a period);
    // bounded, so that a refresh stays one short turn, and the rest are asked at the next.
    internal const int MaxRemoteChecks = 64;

    private readonly Dictionary<string, RosterEntry> _roster = new(StringComparer.Ordinal);

    // Gateways that opened the mesh or hold a member. A gateway that dies stops appearing in connections once
    // its leases expire; it is dropped then.
    private readonly HashSet<string> _opened = new(StringComparer.Ordinal);

    // Gateways loaded from storage that have not shown they are alive to this activation yet.
    private readonly HashSet<string> _unconfirmed = new(StringComparer.Ordinal);
    private readonly Queue<(long At, PeerReaped Reap)> _recentReaps = new();

    // The lost gateways this activation was told of: every survivor reports one again each report interval for a lease
    // (NodeLossWatcher), and only the first report of each is worth a line at Information. A cluster loses a few nodes
    // at a time: past this many, the set starts again, which costs one more line at Information per lost gateway.
    private const int MaxLostGatewaysLogged = 64;
    private HashSet<string>? _lostGateways;
    private long _activatedAt;
    private bool _saveFailed;
    private string[] _gateways = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _activatedAt = time.GetTimestamp();
        _opened.UnionWith(state.State.Gateways);
        _unconfirmed.UnionWith(state.State.Gateways);
        _gateways = [.. _opened.Order(StringComparer.Ordinal)];
        return Task.CompletedTask;
    }

    public async Task<MeshSnapshot> Open(string gatewayId)
    {
        _unconfirmed.Remove(gatewayId);
        var others = _gateways;
        if (_opened.Add(gatewayId))
        {
            await GatewaysChangedAsync();
            await PublishAsync(others, new GatewayJoinedMesh(this.GetPrimaryKeyString(), gatewayId));
        }
        return new MeshSnapshot([.. _roster.Values], _gateways);
    }

    public async Task Close(string gatewayId)
    {
        _unconfirmed.Remove(gatewayId);
        if (!_opened.Remove(gatewayId))
        {
            await ForgetIfEmptyAsync();
            return;
        }
        await GatewaysChangedAsync();
        await PublishAsync(_gateways, new GatewayLeftMesh(this.GetPrimaryKeyString(), gatewayId));
        await ForgetIfEmptyAsync();
    }

    public Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local) => Refresh(gatewayId, local, []);

    public async Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local, PeerIncarnation[] remote)
    {
        _unconfirmed.Remove(gatewayId);
        if (_saveFailed) await SaveGatewaysAsync();
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
            RosterEntry restated;
            if (!_roster.TryGetValue(entry.PeerId, out var known) || known.Incarnation < entry.Incarnation) restated = entry;
            else if (known.Incarnation == entry.Incarnation) restated = OnlyOn(known, gatewayId) ? entry : entry with { Connections = [.. known.Connections.Where(c => c.Key.GatewayId != gatewayId), .. entry.Connections] };
            else continue; // A newer incarnation is known: this gateway's view is behind and will hear about it.

            // The usual refresh restates what the roster holds, on gateways it knows: no call, no allocation. Every
            // mesh of a gateway is refreshed every 10 s, and at 18,000 peers the general path was a quarter of a
            // quiet node's allocations.
            if (KnowsEveryGateway(restated)) _roster[restated.PeerId] = restated;
            else await Upsert(restated);
        }
        await ForgetUnconfirmedAsync();
        var reaps = RecentReaps();
        var missed = await EndedUnknownAsync(remote, reaps);
        await ForgetIfEmptyAsync();
        return missed.Count == 0 ? reaps : [.. reaps, .. missed];
    }

    /// <summary>
    /// Offlines for the peers a gateway believes online (<paramref name="remote"/>) whose incarnation ended though
    /// neither the roster nor the recent reaps say so: their reap was announced while the stream that carried it to the
    /// gateway, and this grain's memory of it, were lost with silos, and their grains cleared their state. Normally the
    /// roster holds every one of them, and no peer grain is asked.
    /// </summary>
    private async Task<List<PeerReaped>> EndedUnknownAsync(PeerIncarnation[] remote, PeerReaped[] recent)
    {
        var mesh = this.GetPrimaryKeyString();
        var ended = new List<PeerReaped>();
        var unknown = new List<PeerIncarnation>();
        foreach (var peer in remote.Take(PeerIncarnation.MaxPerRefresh))
        {
            _roster.TryGetValue(peer.PeerId, out var entry);
            if (entry?.Incarnation == peer.Incarnation) continue;
            if (Array.Exists(recent, r => r.Offline && r.PeerId == peer.PeerId && r.Incarnation >= peer.Incarnation)) continue;
            // Incarnations grow only when a peer comes back from offline: a newer one means this one ended.
            if (entry is not null && entry.Incarnation > peer.Incarnation) ended.Add(Offline(mesh, peer));
            else if (unknown.Count < MaxRemoteChecks) unknown.Add(peer);
        }
        if (unknown.Count == 0) return ended;

        // Each grain answers for itself: one that cannot be asked now (its silo is dying) is asked at the next refresh.
        var failed = 0;
        Exception? failure = null;
        var online = await Task.WhenAll(unknown.Select(async peer =>
        {
            try
            {
                return await GrainFactory.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, peer.PeerId)).OnlineIncarnation();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failed++;
                failure ??= ex;
                return (long?)null;
            }
        }));
        if (failure is not null) Log.CheckFailed(logger, failure, mesh, failed);
        var before = ended.Count;
        for (var i = 0; i < unknown.Count; i++)
        {
            // Online as an older incarnation than the gateway's cannot be: nothing is concluded from it.
            if (online[i] is { } incarnation && (incarnation == 0 || incarnation > unknown[i].Incarnation)) ended.Add(Offline(mesh, unknown[i]));
        }
        if (ended.Count > before) Log.MissedReaps(logger, mesh, ended.Count - before);
        return ended;

        static PeerReaped Offline(string mesh, PeerIncarnation peer) => new(mesh, peer.PeerId, peer.Incarnation, []);
    }

    public async Task<string[]> Upsert(RosterEntry entry)
    {
        var before = _gateways;
        _roster[entry.PeerId] = entry;
        if (KnowsEveryGateway(entry)) return before;
        var added = entry.Connections.Select(c => c.Key.GatewayId).Where(g => Array.IndexOf(before, g) < 0).Distinct().ToArray();
        if (added.Length > 0)
        {
            foreach (var gateway in added) _opened.Add(gateway);
            await GatewaysChangedAsync();
            foreach (var gateway in added) await PublishAsync(before, new GatewayJoinedMesh(this.GetPrimaryKeyString(), gateway));
        }
        return _gateways;
    }

    private bool KnowsEveryGateway(RosterEntry entry)
    {
        foreach (var connection in entry.Connections)
        {
            if (Array.IndexOf(_gateways, connection.Key.GatewayId) < 0) return false;
        }
        return true;
    }

    private static bool OnlyOn(RosterEntry entry, string gatewayId)
    {
        foreach (var connection in entry.Connections)
        {
            if (connection.Key.GatewayId != gatewayId) return false;
        }
        return true;
    }

    public async Task<string[]> Remove(string peerId)
    {
        _roster.Remove(peerId);
        var gateways = _gateways;
        await ForgetIfEmptyAsync();
        return gateways;
    }

    public async Task Expired(string peerId, long incarnation, ConnectionKey[] connections, bool offline, RosterEntry? remaining)
    {
        if (offline || remaining is null) _roster.Remove(peerId);
        else _roster[peerId] = remaining;

        // The gateways of the expired connections are told too, even when this activation is too young to know
        // them (it lost its state with a silo): they may still hold the sockets.
        var mesh = this.GetPrimaryKeyString();
        var audience = _gateways.Union(connections.Select(c => c.GatewayId), StringComparer.Ordinal).ToArray();
        var reaped = new PeerReaped(mesh, peerId, incarnation, connections, offline);
        Remember(reaped);
        await PublishAsync(audience, reaped);

        // A gateway none of whose connections is left in the roster is presumed dead: stop counting it.
        foreach (var gateway in connections.Select(c => c.GatewayId).Distinct())
        {
            if (_roster.Values.Any(e => e.Connections.Any(c => c.Key.GatewayId == gateway)) || !_opened.Remove(gateway)) continue;
            _unconfirmed.Remove(gateway);
            await GatewaysChangedAsync();
            await PublishAsync(_gateways, new GatewayLeftMesh(mesh, gateway));
        }
        await ForgetIfEmptyAsync();
    }

    public async Task GatewayLost(string reporter, string lostGateway, string[] peerIds)
    {
        // The reporter already serves the mesh and its peers know the other gateways' members through the links; a
        // young activation must only learn to tell it of the reaps to come, so nobody else needs to hear of it.
        _unconfirmed.Remove(reporter);
        if (_opened.Add(reporter)) await GatewaysChangedAsync();

        var mesh = this.GetPrimaryKeyString();
        var peers = new HashSet<string>(peerIds, StringComparer.Ordinal);
        foreach (var entry in _roster.Values)
        {
            if (entry.Connections.Any(c => c.Key.GatewayId == lostGateway)) peers.Add(entry.PeerId);
        }
        _lostGateways ??= new HashSet<string>(StringComparer.Ordinal);
        if (_lostGateways.Count == MaxLostGatewaysLogged) _lostGateways.Clear();
        if (_lostGateways.Add(lostGateway)) Log.GatewayLost(logger, mesh, lostGateway, peers.Count);
        else Log.GatewayLostAgain(logger, mesh, lostGateway, peers.Count);
        // Awaited, so that the reporter tries again if a grain could not be activated. A peer grain that reaps right
        // away calls Expired here, which waits for this turn to end; the calls it is waiting on do not.
        await Task.WhenAll(peers.Select(peer => GrainFactory.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, peer)).WatchLeases()));
    }

    public async Task<RosterEntry[]> GetRoster()
    {
        var roster = _roster.Values.ToArray();
        // A reader naming a mesh nobody is in (/invocations takes any name) leaves nothing behind.
        await ForgetIfEmptyAsync();
        return roster;
    }

    /// <summary>
    /// A mesh without members that no gateway serves, and without a reap to replay, has nothing worth keeping: its
    /// stored gateways are cleared and the activation goes, so meshes that clients name and leave (or only ask about) cost no memory or storage.
    /// Whatever comes next (a gateway opening it, a peer joining) starts from the empty mesh it would find anyway.
    /// </summary>
    private async Task ForgetIfEmptyAsync()
    {
        // Recent reaps are kept too, for the replay window: a gateway whose stream lost one hears of it in its refresh.
        if (_roster.Count > 0 || _opened.Count > 0 || RecentReaps().Length > 0) return;
        if (state.RecordExists)
        {
            try
            {
                await state.ClearStateAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Kept active: the record is cleared by the next call that finds the mesh empty.
                Log.SaveFailed(logger, ex, this.GetPrimaryKeyString());
                return;
            }
        }
        this.DeactivateOnIdle();
    }

    private void Remember(PeerReaped reaped)
    {
        if (_recentReaps.Count == MaxRecentReaps) _recentReaps.Dequeue();
        _recentReaps.Enqueue((time.GetTimestamp(), reaped));
    }

    private PeerReaped[] RecentReaps()
    {
        while (_recentReaps.TryPeek(out var oldest) && time.GetElapsedTime(oldest.At) > ReapReplayWindow) _recentReaps.Dequeue();
        return _recentReaps.Count == 0 ? [] : [.. _recentReaps.Select(r => r.Reap)];
    }

    private Task GatewaysChangedAsync()
    {
        _gateways = [.. _opened.Order(StringComparer.Ordinal)];
        return SaveGatewaysAsync();
    }

    /// <summary>Persists the gateways. A failed write (storage down) fails nothing else: this activation knows them,
    /// and the next gateway to restate its peers has the write tried again.</summary>
    private async Task SaveGatewaysAsync()
    {
        state.State.Gateways = [.. _gateways];
        try
        {
            await state.WriteStateAsync();
            _saveFailed = false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _saveFailed = true;
            Log.SaveFailed(logger, ex, this.GetPrimaryKeyString());
        }
    }

    /// <summary>Drops the gateways loaded from storage that, a grace period after activation, have neither restated
    /// their peers nor hold a member: they died while this grain was away, and nobody must send them traffic.</summary>
    private async Task ForgetUnconfirmedAsync()
    {
        if (_unconfirmed.Count == 0 || time.GetElapsedTime(_activatedAt) < UnconfirmedGatewayGrace) return;
        var mesh = this.GetPrimaryKeyString();
        foreach (var gateway in _unconfirmed.ToArray())
        {
            _unconfirmed.Remove(gateway);
            if (_roster.Values.Any(e => e.Connections.Any(c => c.Key.GatewayId == gateway)) || !_opened.Remove(gateway)) continue;
            await GatewaysChangedAsync();
            await PublishAsync(_gateways, new GatewayLeftMesh(mesh, gateway));
        }
    }

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
            Message = "Mesh {Mesh}: gateway {Gateway} may be dead; {Peers} peer grain(s) told to watch their leases")]
        public static partial void GatewayLost(ILogger logger, string mesh, string gateway, int peers);

        [LoggerMessage(EventId = 2106, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: gateway {Gateway} reported lost again; {Peers} peer grain(s) told to watch their leases")]
        public static partial void GatewayLostAgain(ILogger logger, string mesh, string gateway, int peers);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: the gateways serving it could not be saved; the next restatement tries again")]
        public static partial void SaveFailed(ILogger logger, Exception exception, string mesh);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: {Peers} peer(s) a gateway believed online had gone offline unannounced to it; told now")]
        public static partial void MissedReaps(ILogger logger, string mesh, int peers);

        [LoggerMessage(EventId = 2105, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: {Peers} peer grain(s) could not say whether their peer is online; asked again at the next restatement")]
        public static partial void CheckFailed(ILogger logger, Exception exception, string mesh, int peers);
    }
}

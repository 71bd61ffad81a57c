using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Grains.Peers;

/// <inheritdoc cref="IPeerGrain"/>
internal sealed partial class PeerGrain(
    [PersistentState("peer", GatewayStreams.Storage)] IPersistentState<PeerState> state,
    IOptions<LivenessOptions> options,
    TimeProvider time,
    ILogger<PeerGrain> logger) : Grain, IPeerGrain, IRemindable
{
    private const string ReminderName = "reap";

    // Lets a burst of expiries (a gateway's connections, all reported at the same moment) reap in one turn.
    private static readonly TimeSpan MinimumReapDue = TimeSpan.FromMilliseconds(10);

    // After a failed announcement: soon, since the offline is due, but not at once against a silo still dying.
    private static readonly TimeSpan ReapRetryDelay = TimeSpan.FromMilliseconds(500);

    // How long a reap timer's tick waits for the reminder service before trying again at the next check, and for a
    // gateway's grain to say whether the gateway still reports (then taken as a no: the grain reaps, as before).
    private static readonly TimeSpan ReminderCallTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan GatewayCallTimeout = TimeSpan.FromSeconds(2);
    private static readonly byte[] EmptyMetadata = "{}"u8.ToArray();
    private readonly LivenessOptions _options = options.Value;

    // Leases this activation loaded from storage and no live gateway has renewed since: the activation that held them
    // was lost, and with it up to LeaseWriteInterval of renewals that were never written.
    private readonly HashSet<ConnectionLease> _restored = new(ReferenceEqualityComparer.Instance);

    // Expired leases held because their gateway still sends heartbeats, until when (unix seconds). Created on the first
    // hold: most peers never need one, and a peer grain's memory is paid per peer.
    private Dictionary<ConnectionLease, double>? _held;
    private IGrainTimer? _reapTimer;
    private IGrainTimer? _graceTimer;
    private bool _reminderRegistered;

    // The reminder this activation registered, kept so that the peer's departure can unregister it without reading it
    // back from the reminder table first (a Redis read per departure). Null when this activation did not register it
    // (it learnt of it from a tick): then it is read before it is removed, as before.
    private IGrainReminder? _reminder;

    // The last incarnation this activation handed out: kept in memory because clearing the state resets it.
    private long _lastIncarnation;
    private double _lastLeaseWrite;
    private string _mesh = "";
    private string _peerId = "";

    private PeerState State => state.State;
    private IMeshGrain Mesh => GrainFactory.GetGrain<IMeshGrain>(_mesh);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_mesh, _peerId) = GrainKeys.SplitPeer(this.GetPrimaryKeyString());
        _restored.UnionWith(State.Connections);
        _lastIncarnation = State.Incarnation;
        ArmReapTimer();
        // A binding whose activation was lost before its grace ran out: held for the rest of it, or dropped now.
        if (State.Connections.Count == 0 && State.BoundUntil > 0)
        {
            if (IsBound()) ArmGraceTimer();
            else await TryClearAsync();
        }
    }

    public async Task<PeerJoin> Connect(MemberConnection connection, Immutable<byte[]> metadata, double now, string? principal = null)
    {
        var cameOnline = State.Connections.Count == 0;
        if ((!cameOnline || IsBound()) && !string.Equals(State.Principal, principal, StringComparison.Ordinal))
        {
            Log.Refused(logger, _mesh);
            return new PeerJoin(State.Incarnation, CameOnline: false, []) { Refused = true };
        }
        if (cameOnline)
        {
            State.Incarnation = NextIncarnation();
            State.Principal = principal;
            State.BoundUntil = 0;
            _graceTimer?.Dispose();
            _graceTimer = null;
        }
        if (State.Find(connection.Key) is { } known)
        {
            State.Connections.Remove(known);
            _restored.Remove(known);
            Unhold(known);
        }
        State.Connections.Add(new ConnectionLease
        {
            GatewayId = connection.Key.GatewayId,
            ConnectionId = connection.Key.ConnectionId,
            LastFrame = now,
            Agents = connection.Agents,
        });
        State.Metadata = metadata.Value;
        State.LastSeen = now;
        // The state write, the mesh roster and the reap reminder do not depend on one another: one round trip for a
        // registration instead of three in a row (a storm of connections is paced by this latency).
        var write = state.WriteStateAsync();
        var upsert = Mesh.Upsert(Entry());
        var reaping = cameOnline ? StartReaping() : Task.CompletedTask;
        await Task.WhenAll(write, upsert, reaping);
        ArmReapTimer();
        _lastLeaseWrite = now;
        return new PeerJoin(State.Incarnation, cameOnline, await upsert);
    }

    public async Task<string[]> UpdateMetadata(MemberConnection connection, Immutable<byte[]> metadata, double now)
    {
        if (State.Find(connection.Key) is not { } lease)
        {
            await ForgetIfUnusedAsync();
            return [];
        }
        lease.LastFrame = now;
        lease.Agents = connection.Agents;
        State.Metadata = metadata.Value;
        State.LastSeen = now;
        await state.WriteStateAsync();
        _lastLeaseWrite = now;
        return await Mesh.Upsert(Entry());
    }

    public async Task<PeerLeave> Disconnect(ConnectionKey connection)
    {
        // An unknown connection was already reaped here, and its offline already announced: say nothing.
        if (State.Find(connection) is not { } lease)
        {
            await ForgetIfUnusedAsync();
            return new PeerLeave(false, State.Incarnation, []);
        }
        State.Connections.Remove(lease);
        _restored.Remove(lease);
        Unhold(lease);
        if (State.Connections.Count > 0)
        {
            var write = state.WriteStateAsync();
            var upsert = Mesh.Upsert(Entry());
            await Task.WhenAll(write, upsert);
            return new PeerLeave(false, State.Incarnation, await upsert);
        }
        // The state write, the mesh roster and the reminder's removal do not depend on one another: the gateway, which
        // announces the offline once this returns, waits for one round trip instead of four in a row (clear, remove,
        // read the reminder, unregister it). In a mass departure on a cluster those waits were most of the time to
        // the last offline (bench/results/2026-12-07-scale-cluster-departure.md). All of them still complete before
        // the answer: a write that fails fails the call, as it did, and the gateway tells the grain again later.
        var incarnation = State.Incarnation;
        var persisting = PersistOfflineAsync();
        var removing = Mesh.Remove(_peerId);
        var stopping = StopReaping();
        await Task.WhenAll(persisting, removing, stopping);
        if (await persisting) this.DeactivateOnIdle();
        return new PeerLeave(true, incarnation, await removing);
    }

    public async Task Renew(string gatewayId, long[] connectionIds, double lastFrame)
    {
        // A late renewal of a peer that went offline must not keep (or bring back) an activation of nothing.
        if (State.Connections.Count == 0)
        {
            await ForgetIfUnusedAsync();
            return;
        }
        if (!_options.LeaseBackstop) return;
        foreach (var id in connectionIds)
        {
            if (State.Find(new ConnectionKey(gatewayId, id)) is not { } lease) continue;
            // A live gateway reports the connection's latest frame: whatever the lost activation knew, this is it.
            _restored.Remove(lease);
            Unhold(lease);
            if (lease.LastFrame < lastFrame) lease.LastFrame = lastFrame;
        }
        if (lastFrame > State.LastSeen) State.LastSeen = lastFrame;
        // Leases live in memory between writes; a grain re-activated after a silo failure works from the last
        // write, so write often enough that such a grain never reaps a connection a live gateway still reports.
        if (lastFrame - _lastLeaseWrite >= _options.LeaseWriteInterval.TotalSeconds)
        {
            _lastLeaseWrite = lastFrame;
            await state.WriteStateAsync();
        }
    }

    public Task WatchLeases()
    {
        // Activating is the work: OnActivateAsync armed the reap timer for the leases loaded from storage.
        ArmReapTimer();
        // Survivors report a dead node's members for a while after its death: one reported just after it went offline
        // was activated for nothing, and goes again (interleaved, so no storage write, as in OnlineIncarnation).
        if (State.Connections.Count == 0 && !state.RecordExists) this.DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<long> OnlineIncarnation()
    {
        if (State.Connections.Count > 0) return Task.FromResult(State.Incarnation);
        // Interleaved, so no storage write (it could race one of a turn in progress): an activation this call created
        // for a peer that stored nothing just goes again; a stored binding keeps its grace timer.
        if (!state.RecordExists) this.DeactivateOnIdle();
        return Task.FromResult(0L);
    }

    public Task<ConnectionKey[]> GetConnections() => Task.FromResult(State.Connections.Select(c => c.ToKey()).ToArray());

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (State.Connections.Count == 0)
        {
            await StopReaping();
            await ForgetIfUnusedAsync();
            return;
        }
        _reminderRegistered = true;
        ArmReapTimer();
        await ReapExpired();
    }

    private RosterEntry Entry() => new(
        _peerId, State.Metadata, State.LastSeen, State.Incarnation,
        [.. State.Connections.Select(c => new MemberConnection(c.ToKey(), c.Agents))]);

    private async Task ReapExpired()
    {
        if (State.Connections.Count == 0) return;
        var now = UnixTime.Now(time);
        var expired = State.Connections.FindAll(c => LeaseEnd(c) <= now);
        if (expired.Count == 0) return;
        await HoldLeasesOfReportingGateways(expired, now);
        if (expired.Count == 0) return;

        // Announced before the connections go: a call that fails (the mesh grain's silo just died, and is not yet
        // declared dead) leaves them expired in the state, so the next tick announces again instead of nobody ever
        // hearing of the offline. An announcement made twice (the write after it failed) is applied once by the
        // gateways, which remember the incarnations they announced.
        var remaining = State.Connections.FindAll(c => !expired.Contains(c));
        var offline = remaining.Count == 0;
        Log.LeasesExpired(logger, _mesh, expired.Count, remaining.Count);
        var entry = offline ? null : new RosterEntry(_peerId, State.Metadata, State.LastSeen, State.Incarnation,
            [.. remaining.Select(c => new MemberConnection(c.ToKey(), c.Agents))]);
        await Mesh.Expired(_peerId, State.Incarnation, [.. expired.Select(c => c.ToKey())], offline, entry);

        State.Connections.RemoveAll(expired.Contains);
        _restored.ExceptWith(expired);
        expired.ForEach(Unhold);
        if (!offline)
        {
            await state.WriteStateAsync();
            return;
        }
        var persisting = PersistOfflineAsync();
        await Task.WhenAll(persisting, StopReaping());
        if (await persisting) this.DeactivateOnIdle();
    }

    /// <summary>
    /// Keeps out of <paramref name="expired"/> the leases of gateways that still send heartbeats, holding each for one
    /// more report interval (then this asks again), up to <see cref="LivenessOptions.LeaseHoldLimit"/> after its last
    /// frame. A lease runs out when its gateway's renewals stop: a dead gateway, or a live one too starved of CPU to
    /// renew on time. Only the first should make a live peer go offline; the second reaps its own silent peers by its
    /// stale timeout, with a frame the grain has not heard of yet perhaps in its hands. A gateway whose grain does not
    /// answer in time counts as gone: the grain reaps, as it would without this check.
    /// </summary>
    private async Task HoldLeasesOfReportingGateways(List<ConnectionLease> expired, double now)
    {
        var holdLimit = _options.LeaseHoldLimit.TotalSeconds;
        foreach (var gatewayId in expired.Where(c => now < c.LastFrame + holdLimit).Select(c => c.GatewayId).Distinct(StringComparer.Ordinal).ToArray())
        {
            if (!await IsReportingAsync(gatewayId)) continue;
            var heldUntil = now + _options.LivenessReportInterval.TotalSeconds;
            foreach (var lease in expired)
            {
                if (lease.GatewayId != gatewayId || now >= lease.LastFrame + holdLimit) continue;
                _held ??= new Dictionary<ConnectionLease, double>(ReferenceEqualityComparer.Instance);
                _held[lease] = Math.Min(heldUntil, lease.LastFrame + holdLimit);
            }
        }
        if (_held is null) return;
        var held = expired.RemoveAll(c => _held.ContainsKey(c) && LeaseEnd(c) > now);
        if (held > 0) Log.LeasesHeld(logger, _mesh, held);
    }

    private async Task<bool> IsReportingAsync(string gatewayId)
    {
        try
        {
            return await GrainFactory.GetGrain<IGatewayGrain>(gatewayId).IsReporting().WaitAsync(GatewayCallTimeout);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.GatewayCheckFailed(logger, ex, _mesh, gatewayId);
            return false;
        }
    }

    private void Unhold(ConnectionLease lease)
    {
        if (_held is null) return;
        _held.Remove(lease);
        if (_held.Count == 0) _held = null;
    }

    /// <summary>
    /// A new incarnation: above every earlier one even when the state that counted them was cleared, since it is
    /// at least the time in milliseconds (an offline peer's grain keeps nothing, so its ids cost no memory or storage),
    /// and above the last one this activation handed out when several come within a millisecond. Late news about an
    /// earlier incarnation so never hits a new one.
    /// </summary>
    private long NextIncarnation()
    {
        var next = Math.Max(Math.Max(State.Incarnation, _lastIncarnation) + 1, time.GetUtcNow().ToUnixTimeMilliseconds());
        _lastIncarnation = next;
        return next;
    }

    /// <summary>The id is bound to <see cref="PeerState.Principal"/> though the peer is offline (its grace).</summary>
    private bool IsBound() => State.Principal is not null && State.BoundUntil > UnixTime.Now(time);

    /// <summary>
    /// The peer just went offline (no connection, no lease left): keeps only what must outlive it. With a principal
    /// and a grace period, that is the binding of the id to the principal until the grace ends (then it is cleared);
    /// otherwise nothing: the state is cleared (metadata, leases, principal), so ids that come and go cost no memory
    /// or storage. Returns true when nothing is kept and the activation may go.
    /// </summary>
    private async Task<bool> PersistOfflineAsync()
    {
        if (State.Principal is not null && _options.PeerIdGracePeriod > TimeSpan.Zero)
        {
            State.Metadata = EmptyMetadata;
            State.BoundUntil = UnixTime.Now(time) + _options.PeerIdGracePeriod.TotalSeconds;
            await state.WriteStateAsync();
            ArmGraceTimer();
            return false;
        }
        await state.ClearStateAsync();
        return true;
    }

    /// <summary>Clears and deactivates an activation that holds no connection and no binding: it was activated by a
    /// late call about a peer that is gone, or kept a binding whose grace ran out.</summary>
    private async Task ForgetIfUnusedAsync()
    {
        if (State.Connections.Count > 0 || IsBound()) return;
        if (await TryClearAsync()) this.DeactivateOnIdle();
    }

    private async Task<bool> TryClearAsync()
    {
        if (!state.RecordExists) return true;
        try
        {
            await state.ClearStateAsync();
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The activation stays, so that what it knows stays right; the next call about the peer tries again.
            Log.ClearFailed(logger, ex, _mesh);
            return false;
        }
    }

    private void ArmGraceTimer()
    {
        var due = TimeSpan.FromSeconds(State.BoundUntil - UnixTime.Now(time)) + TimeSpan.FromMilliseconds(1);
        if (due < MinimumReapDue) due = MinimumReapDue;
        _graceTimer?.Dispose();
        _graceTimer = this.RegisterGrainTimer(
            static async (grain, _) =>
            {
                grain._graceTimer?.Dispose();
                grain._graceTimer = null;
                await grain.ForgetIfUnusedAsync();
            },
            this,
            new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private async Task ReapOrRetry()
    {
        try
        {
            await ReapExpired();
            ArmReapTimer();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The timer is one-shot: without this, a failed announcement would never be tried again.
            Log.ReapFailed(logger, ex, _mesh);
            ArmReapTimer(ReapRetryDelay);
        }
    }

    private async Task StartReaping()
    {
        if (!_options.LeaseBackstop) return;
        ArmReapTimer();
        await EnsureReminder();
    }

    /// <summary>
    /// Arms the one-shot reap timer for the moment the earliest lease runs out. Leases only ever move later (renewals,
    /// new connections), so a timer armed for the earliest one is never late: when it fires early it reaps nothing and
    /// is armed again. An idle peer's grain so wakes once per lease, not once per reap check: at thousands of peers
    /// a timer per peer ticking every second was thousands of grain turns a second on a silo doing nothing.
    /// </summary>
    private void ArmReapTimer(TimeSpan? atLeast = null)
    {
        if (State.Connections.Count == 0 || !_options.LeaseBackstop) return;
        var due = NextReapDue();
        if (atLeast is { } floor && due < floor) due = floor;
        if (_reapTimer is null)
        {
            _reapTimer = this.RegisterGrainTimer(
                static async (grain, _) =>
                {
                    // Reaping first: the reminder is only the backstop, and registering it may wait on a dying silo.
                    await grain.ReapOrRetry();
                    await grain.EnsureReminder();
                },
                this,
                new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
        else
        {
            // Inside the timer's own tick, Orleans applies the change once the tick completes.
            _reapTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>When the connection's lease runs out (unix seconds): a restored lease is given the renewals its lost
    /// activation may not have written, and a held one runs to the end of its hold.</summary>
    private double LeaseEnd(ConnectionLease connection)
    {
        var end = connection.LastFrame + _options.LeaseDuration.TotalSeconds + (_restored.Contains(connection) ? _options.LeaseWriteInterval.TotalSeconds : 0);
        return _held is not null && _held.TryGetValue(connection, out var heldUntil) && heldUntil > end ? heldUntil : end;
    }

    private TimeSpan NextReapDue()
    {
        var earliest = double.MaxValue;
        foreach (var connection in State.Connections)
        {
            earliest = Math.Min(earliest, LeaseEnd(connection));
        }

        // Leases are compared at millisecond precision: one more millisecond, so the tick finds the lease run out.
        var due = TimeSpan.FromSeconds(earliest - UnixTime.Now(time)) + TimeSpan.FromMilliseconds(1);

        // A reminder that could not be registered is tried again at the next reap check.
        if (!_reminderRegistered && due > _options.ReapCheckInterval) due = _options.ReapCheckInterval;
        return due < MinimumReapDue ? MinimumReapDue : due;
    }

    /// <summary>The reminder is a backstop for a lost activation; the timer reaps while this one lives. So a reminder
    /// store that is slow or not ready (a silo just joined, Redis under load) must not fail the peer's join: the timer
    /// tries again at its next tick.</summary>
    private async Task EnsureReminder()
    {
        if (_reminderRegistered || State.Connections.Count == 0) return;
        try
        {
            // Bounded: a call to the reminder service on a silo that just died waits for the response timeout (30 s),
            // and this turn must not hold the peer's renewals and reaps for that long.
            _reminder = await this.RegisterOrUpdateReminder(ReminderName, _options.ReminderPeriod, _options.ReminderPeriod).WaitAsync(ReminderCallTimeout);
            _reminderRegistered = true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.ReminderFailed(logger, ex, _mesh);
        }
    }

    private async Task StopReaping()
    {
        _reapTimer?.Dispose();
        _reapTimer = null;
        _reminderRegistered = false;
        var known = _reminder;
        _reminder = null;
        if (!_options.LeaseBackstop) return;
        try
        {
            var reminder = known ?? await this.GetReminder(ReminderName);
            if (reminder is not null) await this.UnregisterReminder(reminder);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Left registered, it ticks once more, finds no connection and is removed then.
            Log.ReminderFailed(logger, ex, _mesh);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2005, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: announcing expired leases failed; trying again shortly")]
        public static partial void ReapFailed(ILogger logger, Exception exception, string mesh);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: a connection of another principal was refused a peer id that is online")]
        public static partial void Refused(ILogger logger, string mesh);

        [LoggerMessage(EventId = 2001, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: {Expired} connection lease(s) expired, {Remaining} remain")]
        public static partial void LeasesExpired(ILogger logger, string mesh, int expired, int remaining);

        [LoggerMessage(EventId = 2004, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: an offline peer's state could not be cleared; the next call about it tries again")]
        public static partial void ClearFailed(ILogger logger, Exception exception, string mesh);

        [LoggerMessage(EventId = 2006, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: {Held} expired lease(s) held: their gateway still reports, so it is late, not gone")]
        public static partial void LeasesHeld(ILogger logger, string mesh, int held);

        [LoggerMessage(EventId = 2007, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: asking whether gateway {Gateway} still reports failed; its expired leases are reaped")]
        public static partial void GatewayCheckFailed(ILogger logger, Exception exception, string mesh, string gateway);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: a peer's reap reminder could not be registered or removed; its timer tries again")]
        public static partial void ReminderFailed(ILogger logger, Exception exception, string mesh);
    }
}

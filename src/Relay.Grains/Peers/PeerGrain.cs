using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Grains.Contracts;

namespace Relay.Grains.Peers;

/// <inheritdoc cref="IPeerGrain"/>
internal sealed partial class PeerGrain(
    [PersistentState("peer", GatewayStreams.Storage)] IPersistentState<PeerState> state,
    IOptions<LivenessOptions> options,
    TimeProvider time,
    ILogger<PeerGrain> logger) : Grain, IPeerGrain, IRemindable
{
    private const string ReminderName = "reap";
    private readonly LivenessOptions _options = options.Value;
    private IGrainTimer? _reapTimer;
    private double _lastLeaseWrite;
    private string _mesh = "";
    private string _peerId = "";

    private PeerState State => state.State;
    private IMeshGrain Mesh => GrainFactory.GetGrain<IMeshGrain>(_mesh);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_mesh, _peerId) = GrainKeys.SplitPeer(this.GetPrimaryKeyString());
        if (State.Connections.Count > 0) StartReapTimer();
        return Task.CompletedTask;
    }

    public async Task<PeerJoin> Connect(ConnectionKey connection, Immutable<byte[]> metadata, double now, string? principal = null)
    {
        var cameOnline = State.Connections.Count == 0;
        if (!cameOnline && !string.Equals(State.Principal, principal, StringComparison.Ordinal))
        {
            Log.Refused(logger, _mesh);
            return new PeerJoin(State.Incarnation, CameOnline: false) { Refused = true };
        }
        if (cameOnline)
        {
            State.Incarnation++;
            State.Principal = principal;
        }
        State.Connections[connection] = now;
        State.Metadata = metadata.Value;
        State.LastSeen = now;
        await state.WriteStateAsync();
        _lastLeaseWrite = now;
        await Mesh.Upsert(new RosterEntry(_peerId, metadata.Value, now), connection.GatewayId);
        if (cameOnline) await StartReaping();
        return new PeerJoin(State.Incarnation, cameOnline);
    }

    public async Task UpdateMetadata(ConnectionKey connection, Immutable<byte[]> metadata, double now)
    {
        if (!State.Connections.ContainsKey(connection)) return;
        State.Connections[connection] = now;
        State.Metadata = metadata.Value;
        State.LastSeen = now;
        await state.WriteStateAsync();
        _lastLeaseWrite = now;
        await Mesh.Upsert(new RosterEntry(_peerId, metadata.Value, now), connection.GatewayId);
    }

    public async Task<bool> Disconnect(ConnectionKey connection)
    {
        // An unknown connection was already reaped here, and its offline already announced: say nothing.
        if (!State.Connections.Remove(connection)) return false;
        if (State.Connections.Count > 0)
        {
            await state.WriteStateAsync();
            return false;
        }
        await Mesh.Remove(_peerId);
        await StopReaping();
        await state.WriteStateAsync();
        return true;
    }

    public async Task Renew(string gatewayId, long[] connectionIds, double lastFrame)
    {
        foreach (var id in connectionIds)
        {
            var key = new ConnectionKey(gatewayId, id);
            if (State.Connections.TryGetValue(key, out var seen) && seen < lastFrame) State.Connections[key] = lastFrame;
        }
        if (lastFrame > State.LastSeen) State.LastSeen = lastFrame;
        // Leases live in memory between writes; a grain re-activated after a silo failure works from the last
        // write, so write often enough that such a grain never reaps a connection a live gateway still reports.
        if (lastFrame - _lastLeaseWrite >= _options.StaleTimeout.TotalSeconds / 3)
        {
            _lastLeaseWrite = lastFrame;
            await state.WriteStateAsync();
        }
    }

    public Task<ConnectionKey[]> GetConnections() => Task.FromResult(State.Connections.Keys.ToArray());

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (State.Connections.Count == 0) return StopReaping();
        StartReapTimer();
        return ReapExpired();
    }

    private async Task ReapExpired()
    {
        if (State.Connections.Count == 0) return;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        var lease = _options.LeaseDuration.TotalSeconds;
        List<ConnectionKey>? expired = null;
        foreach (var (connection, lastFrame) in State.Connections)
        {
            if (lastFrame + lease <= now) (expired ??= []).Add(connection);
        }
        if (expired is null) return;

        foreach (var connection in expired) State.Connections.Remove(connection);
        Log.LeasesExpired(logger, _mesh, expired.Count, State.Connections.Count);
        if (State.Connections.Count == 0)
        {
            await Mesh.Reaped(_peerId, State.Incarnation, [.. expired]);
            await StopReaping();
        }
        await state.WriteStateAsync();
    }

    private async Task StartReaping()
    {
        StartReapTimer();
        await this.RegisterOrUpdateReminder(ReminderName, _options.ReminderPeriod, _options.ReminderPeriod);
    }

    private void StartReapTimer() =>
        _reapTimer ??= this.RegisterGrainTimer(
            static (grain, _) => grain.ReapExpired(),
            this,
            new GrainTimerCreationOptions(_options.ReapCheckInterval, _options.ReapCheckInterval) { KeepAlive = true });

    private async Task StopReaping()
    {
        _reapTimer?.Dispose();
        _reapTimer = null;
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null) await this.UnregisterReminder(reminder);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2002, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: a connection of another principal was refused a peer id that is online")]
        public static partial void Refused(ILogger logger, string mesh);

        [LoggerMessage(EventId = 2001, Level = LogLevel.Debug,
            Message = "Mesh {Mesh}: {Expired} connection lease(s) expired, {Remaining} remain")]
        public static partial void LeasesExpired(ILogger logger, string mesh, int expired, int remaining);
    }
}

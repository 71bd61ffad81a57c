using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Relay.Grains;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// Peer membership on this node: registering a connection, its later presences, its leaving (close or reap),
/// and reaps decided by a peer grain. Each transition updates the peer grain (the cluster's truth about who is
/// online) and then this node's <see cref="MeshView"/>, under the peer's transition gate.
/// </summary>
internal sealed partial class PeerMembership(
    IGrainFactory grains,
    GatewayIdentity gateway,
    TransitionGates gates,
    MeshRegistry meshes,
    ConnectionRegistry connections,
    SchedulingLag lag,
    TimeProvider time,
    IOptions<LivenessOptions> liveness,
    IOptions<RelayOptions> options,
    IEnumerable<IMembershipListener> listeners,
    ILogger<PeerMembership> logger)
{
    private readonly IMembershipListener[] _listeners = [.. listeners];

    public enum Outcome { Registered, Updated, Unavailable, Refused, MeshFull }

    /// <summary>What <see cref="SilenceOf"/> found: frames within the stale timeout; silent for it; or silent for it by
    /// the clock only, because this node ran behind its schedule since the last frame and may not have read it yet.</summary>
    public enum Silence { Heard, Silent, HeldByLag }

    private static readonly TimeSpan[] ForgetRetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(25)];

    /// <summary>Handles a presence of <paramref name="connection"/>, already validated and bound to its peer id.
    /// <see cref="Outcome.Refused"/>: auth on, and the peer id is online under another principal (the peer grain
    /// decides, for the whole cluster); <see cref="Outcome.MeshFull"/>: a new peer id in a mesh that holds
    /// <see cref="RelayOptions.MaxPeersPerMesh"/> (as this node sees it, other gateways' peers included). Nothing
    /// changed in either case.</summary>
    public async ValueTask<Outcome> PresenceAsync(MeshView mesh, RelayConnection connection, byte[] metadata, byte[] announcement)
    {
        var peerId = connection.PeerId!;
        var now = UnixTime.Now(time);
        // A registration's span covers the wait for the peer's gate too: a slow one may be spent there.
        using var registering = connection.Registered ? null : RelayActivities.StartPresence(registering: true, mesh.Name, peerId, connection.Id);
        using var _ = await gates.EnterAsync(mesh.Name, peerId);
        var grain = Peer(mesh.Name, peerId);
        var member = new MemberConnection(Key(connection), connection.Agents);
        Activity? updating = null;
        try
        {
            if (!connection.Registered)
            {
                // The first registration in a mesh loads the other gateways' members, so the snapshot has them
                // (and the peer limit counts them).
                await meshes.OpenAsync(mesh);
                if (!mesh.TryReserve(peerId, options.Value.MaxPeersPerMesh))
                {
                    Log.MeshFull(logger, mesh.Name, connection.Id);
                    RelayActivities.Failed(registering, "mesh_full");
                    return Outcome.MeshFull;
                }
                try
                {
                    var registeringFrame = connection.LastFrame;
                    var join = await grain.Connect(member, metadata.AsImmutable(), now, connection.Principal?.Key);
                    if (join.Refused)
                    {
                        Log.Refused(logger, mesh.Name, connection.Id);
                        RelayActivities.Failed(registering, "peer_id_taken");
                        return Outcome.Refused;
                    }
                    connection.GrainMayHold = false;
                    connection.LastReportedFrame = registeringFrame; // the lease Connect started counts from it
                    connection.Incarnation = join.Incarnation;
                    connection.Metadata = metadata;
                    mesh.MergeGateways(join.Gateways);
                    mesh.Register(connection, metadata, now, join.Incarnation, announcement);
                    Log.Registered(logger, mesh.Name, connection.Id, join.CameOnline);
                    return Outcome.Registered;
                }
                finally
                {
                    mesh.Unreserve(peerId);
                }
            }
            if (!metadata.AsSpan().SequenceEqual(connection.Metadata))
            {
                // Only a presence with new metadata calls the grain, and only that one has a span.
                updating = RelayActivities.StartPresence(registering: false, mesh.Name, peerId, connection.Id);
                mesh.MergeGateways(await grain.UpdateMetadata(member, metadata.AsImmutable(), now));
                connection.Metadata = metadata;
            }
            mesh.Update(connection, metadata, now, announcement);
            return Outcome.Updated;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.GrainCallFailed(logger, ex, mesh.Name, connection.Id);
            RelayActivities.Failed(registering ?? updating, "unavailable");
            // The call may have reached the grain after all (a timeout): if the connection goes without registering,
            // the grain is told it left.
            if (!connection.Registered) connection.GrainMayHold = true;
            return Outcome.Unavailable;
        }
        finally
        {
            updating?.Dispose();
        }
    }

    /// <summary>The connection closed, or went silent for the stale timeout (<paramref name="reaped"/>): it leaves
    /// its peer, and when it was the peer's last connection in the cluster, offline goes out once.</summary>
    /// <remarks>A connection this node closed because it is draining (1012) is handed over instead: it leaves this
    /// node's view (and the other gateways' routing, without a word to any client), but the peer grain is not
    /// told. Its lease there keeps the peer online for the grace of a lease; the client reconnecting to another
    /// node within it is a second connection of an online peer (no offline, no newcomer for the others), and the
    /// old lease then simply expires. A client that does not come back goes offline when the lease runs out, once,
    /// announced by the peer grain as for a gateway that died.</remarks>
    public async ValueTask LeaveAsync(MeshView mesh, RelayConnection connection, bool reaped)
    {
        if (connection.PeerId is not { } peerId) return;
        using var _ = await gates.EnterAsync(mesh.Name, peerId);
        if (!connection.Registered)
        {
            if (connection.GrainMayHold && !reaped) ForgetLater(connection);
            return;
        }
        // A frame that arrived while this reap waited for the gate keeps the connection.
        if (reaped && !IsSilent(connection)) return;

        var lastHere = mesh.Remove(connection);
        if (!reaped && connection.ClosedForRestart)
        {
            mesh.HandedOver(connection);
            Log.HandedOver(logger, mesh.Name, connection.Id);
            return;
        }
        PeerLeave leave;
        try
        {
            leave = await Peer(mesh.Name, peerId).Disconnect(Key(connection));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Without an answer, this node's own view is the best evidence there is; the grain is told again later.
            Log.GrainCallFailed(logger, ex, mesh.Name, connection.Id);
            leave = new PeerLeave(lastHere && !mesh.Membership.IsOnlinePeer(peerId), connection.Incarnation, []);
            connection.GrainMayHold = true;
            ForgetLater(connection);
        }
        Log.Left(logger, mesh.Name, connection.Id, reaped, leave.WentOffline);
        if (reaped)
        {
            foreach (var listener in _listeners) listener.Reaped(mesh.Name, peerId);
        }
        mesh.Left(connection, leave, UnixTime.Now(time));
    }

    /// <summary>A peer grain expired connections of a peer because their gateways stopped reporting.</summary>
    public async Task ApplyReapedAsync(PeerReaped reaped)
    {
        if (meshes.Find(reaped.Mesh) is not { } mesh) return;
        using var _ = await gates.EnterAsync(mesh.Name, reaped.PeerId);
        ApplyReaped(mesh, reaped);
    }

    /// <summary>
    /// A reap the mesh grain restated (<see cref="IMeshGrain.Refresh"/>), heard on the stream already or lost
    /// there. Applying one twice changes nothing and announces nothing twice. It is applied only where this gateway
    /// knew the peer, as a member of its view or through a connection of its own, so that a gateway that opened the
    /// mesh after the reap never announces the offline of a peer its clients never saw.
    /// </summary>
    public async Task ApplyRestatedReapAsync(PeerReaped reaped)
    {
        if (meshes.Find(reaped.Mesh) is not { } mesh) return;
        using var _ = await gates.EnterAsync(mesh.Name, reaped.PeerId);
        if (RemoteMeshUpdates.KnewOf(mesh, reaped)) ApplyReaped(mesh, reaped);
    }

    private void ApplyReaped(MeshView mesh, PeerReaped reaped)
    {
        foreach (var key in reaped.Connections)
        {
            if (key.GatewayId != gateway.Id || !connections.TryGet(key.ConnectionId, out var connection)) continue;
            if (connection!.Registered && connection.Incarnation == reaped.Incarnation) mesh.Remove(connection);
        }
        RemoteMeshUpdates.ApplyExpired(mesh, reaped, UnixTime.Now(time));
    }

    /// <summary>
    /// Tells the peer grain, in the background and a few times at most, that a connection it may hold has left: a
    /// failed call must not leave it there (in a cluster its lease would end it in about 34 s; in the single process,
    /// which keeps no leases, nothing else would, and the grain would refuse the id to other principals for good).
    /// Each try takes the peer's gate and stops once the connection registered again (its registration replaced what
    /// the grain held).
    /// </summary>
    private void ForgetLater(RelayConnection connection) => _ = ForgetAsync(connection);

    private async Task ForgetAsync(RelayConnection connection)
    {
        var mesh = connection.MeshName;
        var peerId = connection.PeerId!;
        foreach (var delay in ForgetRetryDelays)
        {
            await Task.Delay(delay, time);
            using var _ = await gates.EnterAsync(mesh, peerId);
            if (connection.Registered || !connection.GrainMayHold) return;
            try
            {
                await Peer(mesh, peerId).Disconnect(Key(connection));
                connection.GrainMayHold = false;
                Log.Forgotten(logger, mesh, connection.Id);
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.GrainCallFailed(logger, ex, mesh, connection.Id);
            }
        }
    }

    /// <summary>Whether <paramref name="connection"/> has been silent for the stale timeout, counted from when this node
    /// could last have read its socket: the time since its last frame less the lag this node accrued since
    /// (<see cref="SchedulingLag.CreditSince"/>, at most one stale timeout). A node that stalled for 10 s does not
    /// reap a peer whose heartbeat waited those 10 s unread.</summary>
    public Silence SilenceOf(RelayConnection connection)
    {
        var stale = liveness.Value.StaleTimeout;
        var lastFrame = connection.LastFrame;
        var silence = time.GetElapsedTime(lastFrame);
        // Credit only lowers the silence, so under the timeout by the clock needs no look-up: the sweep's usual case.
        if (silence < stale) return Silence.Heard;
        return silence - lag.CreditSince(lastFrame) >= stale ? Silence.Silent : Silence.HeldByLag;
    }

    public bool IsSilent(RelayConnection connection) => SilenceOf(connection) == Silence.Silent;

    private IPeerGrain Peer(string mesh, string peerId) => grains.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, peerId));

    private ConnectionKey Key(RelayConnection connection) => new(gateway.Id, connection.Id);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Mesh {Mesh}: connection {ConnectionId} registered (peer came online: {CameOnline})")]
        public static partial void Registered(ILogger logger, string mesh, long connectionId, bool cameOnline);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "Mesh {Mesh}: connection {ConnectionId} left (reaped: {Reaped}, peer offline: {Offline})")]
        public static partial void Left(ILogger logger, string mesh, long connectionId, bool reaped, bool offline);

        [LoggerMessage(EventId = 1106, Level = LogLevel.Debug, Message = "Mesh {Mesh}: connection {ConnectionId} refused a new peer id: the mesh is full")]
        public static partial void MeshFull(ILogger logger, string mesh, long connectionId);

        [LoggerMessage(EventId = 1105, Level = LogLevel.Debug, Message = "Mesh {Mesh}: connection {ConnectionId} closed for a restart; its peer is left to its lease")]
        public static partial void HandedOver(ILogger logger, string mesh, long connectionId);

        [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Mesh {Mesh}: connection {ConnectionId} refused a peer id that is online under another principal")]
        public static partial void Refused(ILogger logger, string mesh, long connectionId);

        [LoggerMessage(EventId = 1107, Level = LogLevel.Information, Message = "Mesh {Mesh}: the peer grain was told again that connection {ConnectionId} left")]
        public static partial void Forgotten(ILogger logger, string mesh, long connectionId);

        [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Mesh {Mesh}: peer grain call for connection {ConnectionId} failed")]
        public static partial void GrainCallFailed(ILogger logger, Exception exception, string mesh, long connectionId);
    }
}

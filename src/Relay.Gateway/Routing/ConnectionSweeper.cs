using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Shared;
using Relay.Grains;
using Relay.Protocol;

namespace Relay.Gateway.Routing;

/// <summary>
/// Once per reap-check interval, looks at every connection of this node: reaps peers silent for the stale
/// timeout (their sockets stay open), closes consumers that made no progress for as long (1013, or an abort
/// when even the close frame cannot get through), sends pending error summaries, and takes back the send-queue rings
/// of connections that got no frame for a minute. (Here, above the connections, because a reap is a membership transition.)
/// Its ticks are also the probe of <see cref="SchedulingLag"/>: a reap waits while this node is behind its schedule.
/// </summary>
internal sealed partial class ConnectionSweeper(
    ConnectionRegistry connections,
    MeshRegistry meshes,
    PeerMembership membership,
    SchedulingLag lag,
    ErrorReplies errors,
    RelayMetrics metrics,
    IOptions<LivenessOptions> liveness,
    IOptions<RelayOptions> options,
    TimeProvider time,
    ILogger<ConnectionSweeper> logger) : PeriodicService(liveness.Value.ReapCheckInterval, time)
{
    protected override Task TickAsync() => SweepAsync();

    internal async Task SweepAsync()
    {
        // First: a tick that finds this node behind must credit that before it judges anybody's silence.
        var late = lag.Tick();
        if (late > TimeSpan.Zero) metrics.SchedulingLag(late);
        var stale = liveness.Value.StaleTimeout;
        var now = Time.GetTimestamp();
        var registrationNow = now - RegistrationCredit(now);
        var held = 0;
        foreach (var connection in connections.All)
        {
            try
            {
                // A registered connection's mesh is served here until the connection has left it.
                if (connection.Registered)
                {
                    switch (membership.SilenceOf(connection))
                    {
                        case PeerMembership.Silence.Silent when meshes.Find(connection.MeshName) is { } mesh:
                            metrics.Reaped();
                            await membership.LeaveAsync(mesh, connection, reaped: true);
                            break;
                        case PeerMembership.Silence.HeldByLag:
                            held++;
                            break;
                    }
                }
                if (connection.IsStalled(stale)) CloseStalled(connection, stale);
                if (connection.IsRegistrationOverdue(registrationNow) && !connection.IsClosing) CloseUnregistered(connection);
                connection.TrimIdleQueue(now);
                errors.SendSuppressedSummary(connection, now);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.SweepFailed(logger, ex, connection.Id);
            }
        }
        if (held > 0)
        {
            metrics.ReapsDeferred(held);
            Log.ReapsHeld(logger, held, lag.Recent.TotalSeconds);
        }
    }

    /// <summary>The registration deadline gets the stale timeout's credit (<see cref="SchedulingLag"/>): a presence that
    /// waited unread while this node ran behind is not late. One figure for the sweep, the lag of the last registration
    /// timeout (a deadline restarted by a refused presence ends later, so this gives it at least its own lag).</summary>
    private long RegistrationCredit(long now)
    {
        var window = (long)(options.Value.RegistrationTimeout.TotalSeconds * Time.TimestampFrequency);
        return (long)(lag.CreditSince(now - window).TotalSeconds * Time.TimestampFrequency);
    }

    /// <summary>A socket that never registered holds a connection slot and its mesh on this node for nothing: with
    /// enough of them, one client could fill the mesh table. Real clients send their presence right after opening.</summary>
    private void CloseUnregistered(RelayConnection connection)
    {
        Log.Unregistered(logger, connection.Id);
        metrics.Disconnected("registration_timeout");
        connection.RequestClose(CloseCodes.PolicyViolation, RegistrationTimeoutReason, drainFirst: false);
    }

    /// <summary>The close reason of a connection that registered no peer in time.</summary>
    internal const string RegistrationTimeoutReason = "no presence registered within the registration timeout";

    private void CloseStalled(RelayConnection connection, TimeSpan stale)
    {
        if (!connection.IsClosing)
        {
            Log.Stalled(logger, connection.Id, connection.QueuedBytes);
            metrics.Disconnected("slow_consumer");
            connection.RequestClose(CloseCodes.TryAgainLater, "consumer made no progress", drainFirst: false);
        }
        else if (connection.IsStalled(stale + stale))
        {
            connection.Abort();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Connection {ConnectionId} made no progress with {QueuedBytes} bytes queued: closing it (1013)")]
        public static partial void Stalled(ILogger logger, long connectionId, long queuedBytes);

        [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "Connection {ConnectionId} registered no peer within the registration timeout: closing it (1008)")]
        public static partial void Unregistered(ILogger logger, long connectionId);

        [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "Held {Count} reaps: this node ran {LagSeconds:F1} s behind its schedule within the stale timeout, so their peers' frames may be unread")]
        public static partial void ReapsHeld(ILogger logger, int count, double lagSeconds);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Sweeping connection {ConnectionId} failed")]
        public static partial void SweepFailed(ILogger logger, Exception exception, long connectionId);
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// On shutdown, before any hosted service stops (Kestrel included, which would otherwise wait for the WebSocket
/// requests and then abort them): marks the node as draining (no new upgrades, <c>/ping</c> says HealthyBusy),
/// then closes every socket with 1012 (service restart), spread evenly over <see cref="RelayOptions.DrainWindow"/>
/// so that the clients reconnecting elsewhere do not arrive at the other nodes all at once. Each close waits for
/// what was already queued for its socket. Finally it waits (bounded) for the sessions to end, while the silo is
/// still up. Connections closed this way hand their peers over to their leases (see
/// <see cref="Routing.PeerMembership.LeaveAsync"/>), so a client that reconnects to another node in time is taken
/// over there without an offline.
/// </summary>
internal sealed partial class ConnectionDrainer(
    ConnectionRegistry connections,
    DrainState drain,
    IOptions<RelayOptions> options,
    TimeProvider time,
    ILogger<ConnectionDrainer> logger) : IHostedLifecycleService
{
    /// <summary>How long the clients get, after the last close was requested, to complete their close handshakes
    /// (then the rest are aborted).</summary>
    public static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        // Oldest first: a deterministic order, and the connections that have been here longest move first.
        var open = connections.All.OrderBy(c => c.Id).ToArray();
        if (open.Length == 0) return;
        var window = options.Value.DrainWindow;
        Log.Draining(logger, open.Length, window);

        var started = time.GetTimestamp();
        for (var i = 0; i < open.Length; i++)
        {
            // An absolute schedule (connection i at i/n of the window): a late wake-up is caught up by closing the
            // ones that are due together, so timer granularity never stretches the window.
            var due = window * i / open.Length;
            var wait = due - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(wait, time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // The host's shutdown timeout is up: close the rest at once.
                }
            }
            open[i].RequestClose(CloseCodes.ServiceRestart, "relay restarting");
        }
        // Accepted just before the drain began, after the list was taken.
        foreach (var connection in connections.All) connection.RequestClose(CloseCodes.ServiceRestart, "relay restarting");

        var closing = time.GetTimestamp();
        while (connections.Count > 0 && time.GetElapsedTime(closing) < CloseTimeout && !cancellationToken.IsCancellationRequested)
        {
            // Sessions end on the clients' close replies; there is no event for "all gone", so poll briefly.
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, CancellationToken.None);
        }
        foreach (var connection in connections.All) connection.Abort();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Shutting down: closing {Connections} connection(s) with 1012 over {Window}")]
        public static partial void Draining(ILogger logger, int connections, TimeSpan window);
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// On shutdown, before any hosted service stops (Kestrel included, which would otherwise wait for the WebSocket
/// requests and then abort them): marks the node as draining, closes every socket with 1012 (service restart)
/// once what was queued for it has been written, and waits (bounded) for the sessions to end, so peers leave
/// cleanly while the silo is still up.
/// </summary>
internal sealed partial class ConnectionDrainer(
    ConnectionRegistry connections,
    DrainState drain,
    TimeProvider time,
    ILogger<ConnectionDrainer> logger) : IHostedLifecycleService
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        var open = connections.Count;
        if (open == 0) return;
        Log.Draining(logger, open);
        foreach (var connection in connections.All) connection.RequestClose(CloseCodes.ServiceRestart, "relay restarting");

        var started = time.GetTimestamp();
        while (connections.Count > 0 && time.GetElapsedTime(started) < DrainTimeout && !cancellationToken.IsCancellationRequested)
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
        [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Shutting down: closing {Connections} connection(s) with 1012")]
        public static partial void Draining(ILogger logger, int connections);
    }
}

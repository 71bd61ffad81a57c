using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Gateway.Shared;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Tells peer grains, in batches, that this gateway's connections are alive: one call per peer that sent
/// anything since the last report, never one per frame. A gateway that dies stops reporting, and its peers'
/// grains reap them when their leases run out.
/// </summary>
internal sealed partial class LivenessReporter(
    ConnectionRegistry connections,
    IGrainFactory grains,
    GatewayIdentity gateway,
    IOptions<LivenessOptions> liveness,
    TimeProvider time,
    ILogger<LivenessReporter> logger) : PeriodicService(liveness.Value.LivenessReportInterval, time)
{
    protected override async Task TickAsync()
    {
        if (!liveness.Value.LeaseBackstop) return; // the single process: nothing outlives this gateway to use them
        var utcNow = Time.GetUtcNow();
        var byPeer = new Dictionary<string, (List<long> Ids, double LastFrame)>(StringComparer.Ordinal);
        foreach (var connection in connections.All)
        {
            var lastFrame = connection.LastFrame;
            if (!connection.Registered || lastFrame == connection.LastReportedFrame) continue;
            connection.LastReportedFrame = lastFrame;
            var unix = UnixTime.ToUnixSeconds(utcNow - Time.GetElapsedTime(lastFrame));
            var key = GrainKeys.Peer(connection.MeshName, connection.PeerId!);
            if (!byPeer.TryGetValue(key, out var entry)) entry = ([], 0);
            entry.Ids.Add(connection.Id);
            byPeer[key] = (entry.Ids, Math.Max(entry.LastFrame, unix));
        }

        var calls = new List<Task>(byPeer.Count);
        foreach (var (key, (ids, lastFrame)) in byPeer)
        {
            calls.Add(grains.GetGrain<IPeerGrain>(key).Renew(gateway.Id, [.. ids], lastFrame));
        }
        try
        {
            // Bounded by one period: a call stuck on a silo that just died (up to the 30 s response timeout) must
            // not hold back the next reports, or leases would run out on live peers. It finishes in the background.
            await Task.WhenAll(calls).WaitAsync(liveness.Value.LivenessReportInterval);
        }
        catch (TimeoutException)
        {
            Log.ReportSlow(logger, calls.Count(c => !c.IsCompleted));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.ReportFailed(logger, ex, calls.Count(c => c.IsFaulted));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "{Failed} liveness report(s) to peer grains failed; the next report retries")]
        public static partial void ReportFailed(ILogger logger, Exception exception, int failed);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "{Pending} liveness report(s) to peer grains are still pending after a whole period; reporting goes on")]
        public static partial void ReportSlow(ILogger logger, int pending);
    }
}

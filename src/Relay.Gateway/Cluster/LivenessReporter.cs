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
/// anything since the last report, never one per frame, and its gateway grain that the gateway itself is (a
/// heartbeat per report). A gateway that dies stops reporting, and its peers' grains reap them when their leases run
/// out and the heartbeats have stopped too.
/// </summary>
/// <remarks>
/// A grain's lease ends <see cref="LivenessOptions.LeaseDuration"/> (stale timeout + 2 report intervals) after the last
/// frame it was told of, so a frame this gateway received but had not reported when it died must be at most two
/// intervals newer than the last one reported, or its peer goes offline before the stale timeout. Periodic reports
/// alone do not hold that for a peer that was silent and then sent one frame: the one reported before may be the
/// stale timeout old. So the first frame more than one interval after the last one reported is reported at once
/// (<see cref="FrameReceived"/>), one call per peer per interval at most, as many as the periodic reports would make.
/// </remarks>
internal sealed partial class LivenessReporter(
    ConnectionRegistry connections,
    IGrainFactory grains,
    GatewayIdentity gateway,
    IOptions<LivenessOptions> liveness,
    TimeProvider time,
    ILogger<LivenessReporter> logger) : PeriodicService(liveness.Value.LivenessReportInterval, time), ILivenessReports
{
    private readonly long _silence = (long)(liveness.Value.LivenessReportInterval.TotalSeconds * time.TimestampFrequency);

    public void FrameReceived(RelayConnection connection, long now)
    {
        if (now - connection.LastReportedFrame < _silence || !connection.Registered || !liveness.Value.LeaseBackstop) return;
        connection.LastReportedFrame = now;
        var lastFrame = UnixTime.ToUnixSeconds(Time.GetUtcNow() - Time.GetElapsedTime(now));
        Watch(grains.GetGrain<IPeerGrain>(GrainKeys.Peer(connection.MeshName, connection.PeerId!)).Renew(gateway.Id, [connection.Id], lastFrame), [connection]);
    }

    protected override Task TickAsync() => ReportAsync();

    /// <summary>One report: a call per peer with frames not yet reported. A call that fails (now, or later: one stuck on
    /// a silo that died fails once the silo is declared dead) leaves its connections unreported, so the next report
    /// carries their frames again. Otherwise a renewal lost with a silo would stay lost until the peer's next frame, and
    /// the grain, re-activated from storage, would reap from an older frame: offline before the stale timeout.</summary>
    internal async Task ReportAsync()
    {
        if (!liveness.Value.LeaseBackstop) return; // the single process: nothing outlives this gateway to use them
        var utcNow = Time.GetUtcNow();
        var byPeer = new Dictionary<string, (List<RelayConnection> Connections, double LastFrame)>(StringComparer.Ordinal);
        foreach (var connection in connections.All)
        {
            var lastFrame = connection.LastFrame;
            if (!connection.Registered || lastFrame == connection.LastReportedFrame) continue;
            connection.LastReportedFrame = lastFrame;
            var unix = UnixTime.ToUnixSeconds(utcNow - Time.GetElapsedTime(lastFrame));
            var key = GrainKeys.Peer(connection.MeshName, connection.PeerId!);
            if (!byPeer.TryGetValue(key, out var entry)) entry = ([], 0);
            entry.Connections.Add(connection);
            byPeer[key] = (entry.Connections, Math.Max(entry.LastFrame, unix));
        }

        // The heartbeat goes out whatever else there is to say: it is what tells a peer grain whose lease on one of
        // this gateway's connections ran out that the gateway is late, not gone (IGatewayGrain.IsReporting).
        var calls = new List<Task>(byPeer.Count + 1) { grains.GetGrain<IGatewayGrain>(gateway.Id).Heartbeat() };
        foreach (var (key, (reported, lastFrame)) in byPeer)
        {
            calls.Add(Watch(grains.GetGrain<IPeerGrain>(key).Renew(gateway.Id, [.. reported.Select(c => c.Id)], lastFrame), reported));
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

    /// <summary>A report that fails leaves its connections unreported: the next periodic report (or their next frame)
    /// carries their frames again.</summary>
    private static Task Watch(Task call, List<RelayConnection> reported)
    {
        _ = call.ContinueWith(static (_, state) => ForgetReport((List<RelayConnection>)state!), reported,
            CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return call;
    }

    // Racing a newer report at worst makes the next one repeat a frame time, which a grain ignores.
    private static void ForgetReport(List<RelayConnection> reported)
    {
        foreach (var connection in reported) connection.LastReportedFrame = 0;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "{Failed} liveness report(s) to peer grains failed; the next report retries")]
        public static partial void ReportFailed(ILogger logger, Exception exception, int failed);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "{Pending} liveness report(s) to peer grains are still pending after a whole period; reporting goes on")]
        public static partial void ReportSlow(ILogger logger, int pending);
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Relay.Gateway.Routing;
using Relay.Grains;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Watches the cluster's silos (<see cref="IClusterView"/>) and, whenever one is declared dead, has the peer grains of
/// every member this gateway knows on a gateway without a live silo of its name watch their leases, through their mesh
/// grains (<see cref="IMeshGrain.GatewayLost"/>). Those members' leases are renewed by nobody: their gateway died (a
/// co-hosted node, whose silo is named after its gateway), or may have (a gateway-only node, which the membership does
/// not list). Their peer grains may have lived on the dead silo, together with the timers that would have reaped them,
/// and nothing else would re-activate them before their reminder (a minute at best): reaped on their leases instead,
/// they go offline 30-40 s after their last frame. Members of a live gateway-only node are told too, which costs one
/// call to a grain their gateway renews anyway, and nothing else. Every later death is handled the same way: grains
/// re-activated on a survivor by an earlier report die again if that survivor does before their leases end.
/// </summary>
/// <remarks>
/// One report is not enough, because a silo's death also ends activations that survive it: Orleans' default grain
/// directory deactivates every activation, on every silo, whose directory entry the dead silo held (about one in
/// silos), as each silo applies the new membership. A report that reached such a grain first re-activated nothing,
/// and the grain, its timer gone, waited for its reminder: 65 s after its last frame in one CI run. So the report is
/// made again every <see cref="LivenessOptions.LivenessReportInterval"/> (what a live gateway's renewals give its own
/// peers' grains) until no lease from before the death can still run (<see cref="RevivalWindow"/>); a call to a grain
/// still active only finds its timer armed. A round that fails is so tried again at the next.
/// </remarks>
internal sealed partial class NodeLossWatcher(
    IClusterView cluster,
    MeshRegistry meshes,
    GatewayIdentity gateway,
    IGrainFactory grains,
    IOptions<LivenessOptions> liveness,
    TimeProvider time,
    ILogger<NodeLossWatcher> logger) : BackgroundService
{
    // A mesh grain on a silo that just died waits for Orleans' response timeout; the next round asks again sooner.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly HashSet<SiloAddress> _handled = [];
    private HashSet<string> _liveSilos = new(StringComparer.Ordinal);

    /// <summary>How long after a death its members are reported again: the longest a lease from before it can still run
    /// (a restored lease: <see cref="LivenessOptions.LeaseDuration"/> plus <see cref="LivenessOptions.LeaseWriteInterval"/>
    /// after a last frame that came before the death).</summary>
    internal TimeSpan RevivalWindow => liveness.Value.LeaseDuration + liveness.Value.LeaseWriteInterval;

    /// <summary>The rounds after the latest death; they end with the window (or once nothing is left to revive), and
    /// never fail. For tests, which wait on them to know no round is left.</summary>
    internal Task LatestRevival { get; private set; } = Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var silos in cluster.WatchAsync(stoppingToken))
            {
                // The latest names: the rounds of an earlier death skip a gateway whose node has come back meanwhile.
                Volatile.Write(ref _liveSilos, silos.Where(s => !s.Dead).Select(s => s.Name).ToHashSet(StringComparer.Ordinal));
                // Deaths from before this node started are handled too: a gateway knows members of a dead node only
                // while their leases run, and then they need it as much.
                var died = false;
                foreach (var silo in silos)
                {
                    if (silo.Dead && _handled.Add(silo.Address)) died = true;
                }
                if (died) LatestRevival = ReviveAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>The rounds that follow one death: one at once, then one per report interval for the window.</summary>
    private async Task ReviveAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        using var rounds = new PeriodicTimer(liveness.Value.LivenessReportInterval, time);
        // The meshes (by lost gateway) told at least once: a gateway is announced once, and a mesh never told is given up.
        var told = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                var lost = UnrenewedMembers(Volatile.Read(ref _liveSilos));
                if (lost.Count == 0) return; // all reaped (or back): nothing is left to revive
                var last = time.GetElapsedTime(started) >= RevivalWindow;
                await Task.WhenAll(lost.Select(l => TellMeshGrainsAsync(l.Key, l.Value, told, cancellationToken)));
                if (last)
                {
                    foreach (var (lostGateway, pending) in lost)
                    {
                        // Their reminders still reap them, a minute later at most.
                        var never = pending.Count(p => !told[lostGateway].Contains(p.Mesh));
                        if (never > 0) Log.GaveUp(logger, lostGateway, never);
                    }
                    return;
                }
                if (!await rounds.WaitForNextTickAsync(cancellationToken)) return;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>The members this gateway knows on other gateways that no live silo is named after, by gateway.</summary>
    private Dictionary<string, List<(string Mesh, string[] Peers)>> UnrenewedMembers(HashSet<string> liveSilos)
    {
        var byGateway = new Dictionary<string, List<(string Mesh, string[] Peers)>>(StringComparer.Ordinal);
        foreach (var mesh in meshes.Snapshot())
        {
            foreach (var remote in mesh.RemoteGateways())
            {
                if (remote == gateway.Id || liveSilos.Contains(remote)) continue;
                var peers = mesh.PeersOn(remote);
                if (peers.Length == 0) continue;
                if (!byGateway.TryGetValue(remote, out var pending)) byGateway[remote] = pending = [];
                pending.Add((mesh.Name, peers));
            }
        }
        return byGateway;
    }

    private async Task TellMeshGrainsAsync(
        string lostGateway, List<(string Mesh, string[] Peers)> pending, Dictionary<string, HashSet<string>> told, CancellationToken cancellationToken)
    {
        HashSet<string>? toldOfGateway;
        lock (told)
        {
            if (!told.TryGetValue(lostGateway, out toldOfGateway))
            {
                told[lostGateway] = toldOfGateway = new HashSet<string>(StringComparer.Ordinal);
                var known = pending.Sum(p => p.Peers.Length);
                Log.NodeLost(logger, lostGateway, pending.Count, known);
            }
        }
        var calls = pending.Select(p => (p.Mesh, Call: grains.GetGrain<IMeshGrain>(p.Mesh).GatewayLost(gateway.Id, lostGateway, p.Peers)
            .WaitAsync(CallTimeout, time, cancellationToken))).ToArray();
        try
        {
            await Task.WhenAll(calls.Select(c => c.Call));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            Log.ReportFailed(logger, ex, lostGateway, calls.Count(c => !c.Call.IsCompletedSuccessfully));
        }
        // One task per lost gateway, so this set is written by one at a time.
        foreach (var (mesh, call) in calls)
        {
            if (call.IsCompletedSuccessfully) toldOfGateway.Add(mesh);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2301, Level = LogLevel.Information,
            Message = "A silo died and no live one is named after gateway {Gateway}: its members in {Meshes} mesh(es) ({Peers} seen here) are reaped on their leases")]
        public static partial void NodeLost(ILogger logger, string gateway, int meshes, int peers);

        [LoggerMessage(EventId = 2302, Level = LogLevel.Warning,
            Message = "Telling {Failed} mesh grain(s) that gateway {Gateway} was lost failed; trying again")]
        public static partial void ReportFailed(ILogger logger, Exception exception, string gateway, int failed);

        [LoggerMessage(EventId = 2303, Level = LogLevel.Error,
            Message = "{Meshes} mesh grain(s) could not be told that gateway {Gateway} was lost; their peers' reminders will reap them")]
        public static partial void GaveUp(ILogger logger, string gateway, int meshes);
    }
}

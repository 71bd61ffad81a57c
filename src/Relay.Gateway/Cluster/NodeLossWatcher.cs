using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Relay.Gateway.Routing;
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
internal sealed partial class NodeLossWatcher(
    IClusterView cluster,
    MeshRegistry meshes,
    GatewayIdentity gateway,
    IGrainFactory grains,
    TimeProvider time,
    ILogger<NodeLossWatcher> logger) : BackgroundService
{
    // A silo just declared dead may still be in directory caches, and a mesh grain that lived on it is re-activated
    // by the first call that gets through: a call that fails is tried again a few times, well within the lease.
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly HashSet<SiloAddress> _handled = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var silos in cluster.WatchAsync(stoppingToken))
            {
                // Deaths from before this node started are handled too: a gateway knows members of a dead node only
                // while their leases run, and then they need it as much.
                var died = false;
                foreach (var silo in silos)
                {
                    if (silo.Dead && _handled.Add(silo.Address)) died = true;
                }
                if (!died) continue;
                var live = silos.Where(s => !s.Dead).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var (lostGateway, pending) in UnrenewedMembers(live))
                {
                    _ = ReportAsync(lostGateway, pending, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
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

    private async Task ReportAsync(string lostGateway, List<(string Mesh, string[] Peers)> pending, CancellationToken cancellationToken)
    {
        try
        {
            await TellMeshGrainsAsync(lostGateway, pending, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    private async Task TellMeshGrainsAsync(string lostGateway, List<(string Mesh, string[] Peers)> pending, CancellationToken cancellationToken)
    {
        var known = pending.Sum(p => p.Peers.Length);
        Log.NodeLost(logger, lostGateway, pending.Count, known);

        for (var attempt = 0; ; attempt++)
        {
            var calls = pending.Select(p => (p, Call: grains.GetGrain<IMeshGrain>(p.Mesh).GatewayLost(gateway.Id, lostGateway, p.Peers)
                .WaitAsync(CallTimeout, time, cancellationToken))).ToArray();
            try
            {
                await Task.WhenAll(calls.Select(c => c.Call));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
            {
                Log.ReportFailed(logger, ex, lostGateway, calls.Count(c => !c.Call.IsCompletedSuccessfully));
            }
            pending = [.. calls.Where(c => !c.Call.IsCompletedSuccessfully).Select(c => c.p)];
            if (pending.Count == 0 || cancellationToken.IsCancellationRequested) return;
            if (attempt == RetryDelays.Length) break;
            await Task.Delay(RetryDelays[attempt], time, cancellationToken);
        }
        // Their reminders still reap them, a minute later at most.
        Log.GaveUp(logger, lostGateway, pending.Count);
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

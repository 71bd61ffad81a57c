using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// On a co-hosted node (silo and gateway in one process, its silo named after its gateway): watches the cluster's
/// membership, and when another co-hosted node is declared dead, asks the mesh grains of every mesh where this gateway
/// knows members on the dead node's gateway to have their peer grains watch their leases
/// (<see cref="IMeshGrain.GatewayLost"/>). The peer grains of those members most likely lived on the dead silo,
/// together with the timers that would have reaped them, and nothing else would re-activate them before their
/// reminder (a minute at best): reaped on their leases instead, they go offline 30-40 s after their last frame.
/// Every later death is reported for the earlier dead nodes' members this gateway still lists, too: their grains,
/// re-activated on a survivor by the first report, die again if that survivor does before their leases end.
/// </summary>
internal sealed partial class NodeLossWatcher(
    IClusterMembershipService membership,
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
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var died = false;
                foreach (var member in snapshot.Members.Values)
                {
                    // Deaths from before this node started are handled too: a gateway knows members of a dead node
                    // only while their leases run, and then they need it as much.
                    if (member.Status == SiloStatus.Dead && _handled.Add(member.SiloAddress)) died = true;
                }
                if (!died) continue;
                // Every dead node, not just the one declared now: members of one that died earlier are still listed
                // until they are reaped, and their grains may have been re-activated on the node that just died.
                foreach (var lostGateway in snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead && m.Name != gateway.Id).Select(m => m.Name).Distinct())
                {
                    var pending = PeersOn(lostGateway);
                    if (pending.Count > 0) _ = ReportAsync(lostGateway, pending, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    private List<(string Mesh, string[] Peers)> PeersOn(string lostGateway)
    {
        var pending = new List<(string Mesh, string[] Peers)>();
        foreach (var mesh in meshes.Snapshot())
        {
            var peers = mesh.PeersOn(lostGateway);
            if (peers.Length > 0) pending.Add((mesh.Name, peers));
        }
        return pending;
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
            Message = "Node of gateway {Gateway} is dead: its peers in {Meshes} mesh(es) ({Peers} seen here) are reaped on their leases")]
        public static partial void NodeLost(ILogger logger, string gateway, int meshes, int peers);

        [LoggerMessage(EventId = 2302, Level = LogLevel.Warning,
            Message = "Telling {Failed} mesh grain(s) that gateway {Gateway} was lost failed; trying again")]
        public static partial void ReportFailed(ILogger logger, Exception exception, string gateway, int failed);

        [LoggerMessage(EventId = 2303, Level = LogLevel.Error,
            Message = "{Meshes} mesh grain(s) could not be told that gateway {Gateway} was lost; their peers' reminders will reap them")]
        public static partial void GaveUp(ILogger logger, string gateway, int meshes);
    }
}

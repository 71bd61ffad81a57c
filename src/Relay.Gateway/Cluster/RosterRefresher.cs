using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Routing;
using Relay.Gateway.Shared;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Every few seconds, restates this gateway's peers to their mesh grains. Mesh grains keep their rosters in
/// memory; one that lost its activation with a silo is whole again after at most one period, without any
/// peer going offline meanwhile (gateways route from their own views, not from the roster). It names the peers this
/// gateway believes online through other gateways, too, and the grain answers with the reaps this gateway's stream may
/// have lost with a silo: its recent ones, and offlines for named peers whose incarnation ended though the roster
/// lacks them (the reap's memory went with a mesh-grain activation; their peer grains say so).
/// </summary>
internal sealed partial class RosterRefresher(
    MeshRegistry meshes,
    PeerMembership membership,
    GatewayIdentity gateway,
    IGrainFactory grains,
    TimeProvider time,
    ILogger<RosterRefresher> logger) : PeriodicService(Period, time)
{
    internal static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    protected override async Task TickAsync()
    {
        foreach (var mesh in meshes.Snapshot())
        {
            if (mesh.Opening is not { IsCompletedSuccessfully: true }) continue;
            try
            {
                var reaps = await grains.GetGrain<IMeshGrain>(mesh.Name).Refresh(gateway.Id, mesh.LocalRoster(), mesh.RemoteOnlyPeers());
                foreach (var reaped in reaps) await membership.ApplyRestatedReapAsync(reaped);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                Log.RefreshFailed(logger, ex, mesh.Name);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1801, Level = LogLevel.Warning, Message = "Restating this gateway's peers of mesh {Mesh} failed; the next period retries")]
        public static partial void RefreshFailed(ILogger logger, Exception exception, string mesh);
    }
}

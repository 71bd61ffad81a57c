using Microsoft.Extensions.Logging;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The nodes of the cluster for the dashboard: the Orleans silos, as the management grain lists them (one grain call
/// at most every <see cref="RefreshInterval"/>, whatever the number of viewers), this gateway, and the other relay
/// gateways this node shares meshes with (a gateway only knows those: gateways register with meshes, not with a
/// cluster-wide table).
/// </summary>
internal sealed partial class ClusterNodes(
    IGrainFactory grains,
    GatewayIdentity gateway,
    MeshRegistry meshes,
    TimeProvider time,
    ILogger<ClusterNodes> logger) : IDisposable
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private NodeInfo[] _silos = [];
    private string? _error;
    private long _refreshedAt;
    private bool _refreshed;

    /// <summary>The nodes, and why the silos could not be listed (null when they could).</summary>
    public async Task<(NodeInfo[] Nodes, string? Error)> ListAsync(CancellationToken cancellationToken)
    {
        await RefreshSilosAsync(cancellationToken);
        var gateways = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var mesh in meshes.Snapshot()) gateways.UnionWith(mesh.Membership.Gateways);
        gateways.Remove(gateway.Id);
        NodeInfo[] nodes =
        [
            .. Volatile.Read(ref _silos),
            new("gateway", gateway.Id, "", "Active", Self: true),
            .. gateways.Select(id => new NodeInfo("gateway", id, "", "Active", Self: false)),
        ];
        return (nodes, Volatile.Read(ref _error));
    }

    private async Task RefreshSilosAsync(CancellationToken cancellationToken)
    {
        if (_refreshed && time.GetElapsedTime(Volatile.Read(ref _refreshedAt)) < RefreshInterval) return;
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (_refreshed && time.GetElapsedTime(_refreshedAt) < RefreshInterval) return;
            try
            {
                var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(true, cancellationToken).WaitAsync(CallTimeout, time, cancellationToken);
                Volatile.Write(ref _silos, [.. hosts
                    .OrderBy(h => h.SiloAddress.ToString(), StringComparer.Ordinal)
                    .Select(h => new NodeInfo("silo", h.SiloName ?? h.HostName ?? "", h.SiloAddress.Endpoint.ToString(), h.Status.ToString(), Self: false))]);
                Volatile.Write(ref _error, null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                Log.ListFailed(logger, ex);
                Volatile.Write(ref _error, "the silos could not be listed: " + ex.GetType().Name);
            }
            Volatile.Write(ref _refreshedAt, time.GetTimestamp());
            _refreshed = true;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose() => _refresh.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 2201, Level = LogLevel.Debug, Message = "Dashboard: listing the cluster's silos failed")]
        public static partial void ListFailed(ILogger logger, Exception exception);
    }
}

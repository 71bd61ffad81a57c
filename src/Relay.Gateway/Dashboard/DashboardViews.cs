using System.Text;
using Microsoft.Extensions.Options;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// Builds what a dashboard update shows from what the node already keeps (mesh views, connection registry, drain
/// state, the relay's counters through <see cref="MessageRates"/>, <see cref="DisconnectLog"/>, <see cref="ClusterNodes"/>).
/// One view is built per update interval and shared by every viewer. Bounded whatever clients do: at most
/// <see cref="MaxMeshes"/> meshes and <see cref="MaxPeersPerMesh"/> peers each (first by name; the counts say how many
/// there are), metadata up to <see cref="MaxMetadataBytes"/>.
/// </summary>
internal sealed class DashboardViews(
    GatewayIdentity gateway,
    MeshRegistry meshes,
    ConnectionRegistry connections,
    DrainState drain,
    MessageRates rates,
    DisconnectLog disconnects,
    ClusterNodes nodes,
    IOptions<DashboardOptions> options,
    TimeProvider time) : IDisposable
{
    public const int MaxMeshes = 100;
    public const int MaxPeersPerMesh = 200;
    public const int MaxMetadataBytes = 2048;

    private readonly SemaphoreSlim _build = new(1, 1);
    private DashboardView? _latest;
    private long _builtAt;

    /// <summary>The current view: built now, or shared when another viewer's request built it within half an update
    /// interval. <paramref name="mesh"/>: show only that mesh (a token's mesh claim).</summary>
    public async Task<DashboardView> CurrentAsync(string? mesh, CancellationToken cancellationToken)
    {
        await _build.WaitAsync(cancellationToken);
        DashboardView view;
        try
        {
            if (_latest is null || time.GetElapsedTime(_builtAt) >= options.Value.UpdateInterval / 2)
            {
                _latest = await BuildAsync(cancellationToken);
                _builtAt = time.GetTimestamp();
            }
            view = _latest;
        }
        finally
        {
            _build.Release();
        }
        return mesh is null ? view : OnlyMesh(view, mesh);
    }

    public void Dispose() => _build.Dispose();

    private async Task<DashboardView> BuildAsync(CancellationToken cancellationToken)
    {
        var (nodeList, nodesError) = await nodes.ListAsync(cancellationToken);
        var served = meshes.Snapshot();
        var meshInfos = served
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .Take(MaxMeshes)
            .Select(Describe)
            .ToArray();
        return new DashboardView(gateway.Id, time.GetUtcNow().ToUnixTimeMilliseconds(), drain.IsDraining, connections.Count,
            nodeList, nodesError, served.Length, meshInfos, rates.History(), disconnects.Recent());
    }

    private static MeshInfo Describe(MeshView mesh)
    {
        var peers = mesh.Membership.Summaries().ToList();
        peers.Sort((a, b) => string.CompareOrdinal(a.PeerId, b.PeerId));
        return new MeshInfo(mesh.Name, peers.Count, [.. peers.Take(MaxPeersPerMesh).Select(Describe)]);
    }

    private static PeerInfo Describe(PeerSummary peer) => new(
        peer.PeerId,
        peer.Metadata.Length <= MaxMetadataBytes ? Encoding.UTF8.GetString(peer.Metadata) : null,
        peer.Metadata.Length,
        peer.Local,
        peer.Remote,
        peer.LastSeen);

    private DashboardView OnlyMesh(DashboardView view, string mesh)
    {
        MeshInfo[] only = meshes.Find(mesh) is { } served ? [Describe(served)] : [];
        return view with
        {
            MeshCount = only.Length,
            Meshes = only,
            Disconnects = [.. view.Disconnects.Where(d => d.Mesh == mesh)],
        };
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Routing;

/// <summary>The meshes this node has connections in. A mesh is dropped with its last connection (and the mesh
/// grain told so), so clients cannot grow this table by naming meshes they then leave; and it holds at most
/// <see cref="RelayOptions.MaxMeshes"/>.</summary>
internal sealed partial class MeshRegistry(
    GatewayIdentity gateway,
    IGatewayLinks links,
    IGrainFactory grains,
    IOptions<RelayOptions> options,
    ILogger<MeshRegistry> logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, MeshView> _meshes = new(StringComparer.Ordinal);

    /// <summary>Returns the mesh, created if needed, with one more connection counted in it; null when the mesh
    /// is not served here yet and this node already serves <see cref="RelayOptions.MaxMeshes"/>.</summary>
    public MeshView? TryJoin(string name)
    {
        lock (_lock)
        {
            if (!_meshes.TryGetValue(name, out var mesh))
            {
                if (_meshes.Count >= options.Value.MaxMeshes) return null;
                _meshes[name] = mesh = new MeshView(name, gateway.Id, links);
            }
            mesh.OpenConnections++;
            return mesh;
        }
    }

    public void Leave(MeshView mesh)
    {
        lock (_lock)
        {
            if (--mesh.OpenConnections > 0) return;
            _meshes.Remove(mesh.Name);
        }
        if (mesh.Opening is not null) _ = CloseAsync(mesh.Name);
    }

    public MeshView? Find(string name)
    {
        lock (_lock) return _meshes.GetValueOrDefault(name);
    }

    public MeshView[] Snapshot()
    {
        lock (_lock) return [.. _meshes.Values];
    }

    /// <summary>Tells the mesh grain this gateway serves the mesh, and loads what it knows (once per view).</summary>
    public Task OpenAsync(MeshView mesh)
    {
        lock (_lock)
        {
            if (mesh.Opening is { IsFaulted: true }) mesh.Opening = null; // a failed open is retried by the next presence
            return mesh.Opening ??= LoadAsync(mesh);
        }
    }

    private async Task LoadAsync(MeshView mesh) => mesh.Load(await grains.GetGrain<IMeshGrain>(mesh.Name).Open(gateway.Id));

    private async Task CloseAsync(string mesh)
    {
        try
        {
            await grains.GetGrain<IMeshGrain>(mesh).Close(gateway.Id);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.CloseFailed(logger, ex, mesh);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Could not tell mesh {Mesh} that this gateway left it")]
        public static partial void CloseFailed(ILogger logger, Exception exception, string mesh);
    }
}

namespace Relay.Gateway.Routing;

/// <summary>The meshes this node has connections in. A mesh is dropped with its last connection, so clients
/// cannot grow this table by naming meshes they then leave.</summary>
internal sealed class MeshRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LocalMesh> _meshes = new(StringComparer.Ordinal);

    /// <summary>Returns the mesh, created if needed, with one more connection counted in it.</summary>
    public LocalMesh Join(string name)
    {
        lock (_lock)
        {
            if (!_meshes.TryGetValue(name, out var mesh)) _meshes[name] = mesh = new LocalMesh(name);
            mesh.OpenConnections++;
            return mesh;
        }
    }

    public void Leave(LocalMesh mesh)
    {
        lock (_lock)
        {
            if (--mesh.OpenConnections == 0) _meshes.Remove(mesh.Name);
        }
    }

    public LocalMesh? Find(string name)
    {
        lock (_lock) return _meshes.GetValueOrDefault(name);
    }

    public LocalMesh[] Snapshot()
    {
        lock (_lock) return [.. _meshes.Values];
    }
}

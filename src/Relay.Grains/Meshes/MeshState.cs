namespace Relay.Grains.Meshes;

/// <summary>What a mesh grain persists: the gateways that serve the mesh. The roster is rebuilt from the gateways after
/// a silo failure, but only if the grain knows whom to tell: a re-activated grain that forgot a gateway would announce
/// a reap to everybody but it. Written only when a gateway joins or leaves the mesh.</summary>
[GenerateSerializer, Alias("relay.MeshState")]
public sealed class MeshState
{
    [Id(0)] public List<string> Gateways { get; set; } = [];
}

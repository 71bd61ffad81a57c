namespace Relay.Gateway.Connections;

/// <summary>A connection that can be registered in a mesh, on this node (<see cref="RelayConnection"/>) or on
/// another gateway (<see cref="Routing.RemoteMember"/>): what direct addressing needs to know about it.</summary>
internal abstract class MeshMember
{
    /// <summary>The peer id of the connection's first presence; never changes afterwards.</summary>
    public string? PeerId { get; set; }

    /// <summary>Agents listed by the connection's latest presence.</summary>
    public volatile string[]? Agents;

    /// <summary>The agents the mesh's agent index holds for this connection (see <see cref="Routing.MeshMembership"/>):
    /// its <see cref="Agents"/> as of its latest recorded presence. Written under the mesh lock only.</summary>
    public string[]? IndexedAgents { get; set; }
}

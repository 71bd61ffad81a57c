using Relay.Gateway.Connections;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Routing;

/// <summary>A connection held by another gateway, as that gateway's link told this one.</summary>
internal sealed class RemoteMember : MeshMember
{
    public RemoteMember(ConnectionKey key, string peerId, long incarnation, string[]? agents)
    {
        Key = key;
        PeerId = peerId;
        Incarnation = incarnation;
        Agents = agents;
    }

    public ConnectionKey Key { get; }

    public long Incarnation { get; }
}

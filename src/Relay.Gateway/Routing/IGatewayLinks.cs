using Relay.Grains.Contracts;

namespace Relay.Gateway.Routing;

/// <summary>The links to the other gateways of the cluster, as routing uses them: an item for a gateway is queued
/// without blocking, and each gateway receives its items in the order they were sent (<c>Cluster.GatewayLinks</c>
/// is the implementation).</summary>
internal interface IGatewayLinks
{
    void Send(string gateway, LinkItem item);
}

using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Resources;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Hosting;

/// <summary>
/// What a node's telemetry says about the node unless <c>OTEL_SERVICE_NAME</c> or <c>OTEL_RESOURCE_ATTRIBUTES</c> say
/// otherwise: <c>service.name</c> by role (<c>relay</c> for a co-hosted node, <c>relay-silo</c>, <c>relay-gateway</c>),
/// the relay's version, and as <c>service.instance.id</c> the gateway's id (the one its logs, the dashboard and other
/// gateways' link spans name), or a new id per process on a silo-only node.
/// </summary>
internal sealed class RelayResourceDetector(IServiceProvider services) : IResourceDetector
{
    // Each signal's provider detects the resource on its own: they must agree on the id.
    private static readonly string ProcessInstance = Guid.NewGuid().ToString("N");

    public Resource Detect()
    {
        var role = services.GetService<RelayNode>()?.Role ?? RelayRole.Combined;
        var instance = services.GetService<GatewayIdentity>()?.Id ?? ProcessInstance;
        return ResourceBuilder.CreateEmpty()
            .AddService(ServiceName(role), serviceVersion: RelayVersion.Value, autoGenerateServiceInstanceId: false, serviceInstanceId: instance)
            .Build();
    }

    public static string ServiceName(RelayRole role) => role switch
    {
        RelayRole.Silo => "relay-silo",
        RelayRole.Gateway => "relay-gateway",
        _ => "relay",
    };
}

namespace Relay.Gateway.Routing;

/// <summary>This gateway's id in the cluster: peer grains record which gateway holds each connection, and the
/// gateway listens for cluster events on the stream of this id. New per process: a restarted gateway is a new
/// gateway, and its old connections are gone with the old process.</summary>
public sealed class GatewayIdentity
{
    public string Id { get; } = $"{Environment.MachineName}-{Guid.NewGuid():N}"[..^24];
}

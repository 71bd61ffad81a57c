namespace Relay.Grains.Contracts;

/// <summary>Names of the Orleans streams that carry <see cref="GatewayEvent"/>s: one stream per gateway.</summary>
public static class GatewayStreams
{
    /// <summary>The stream provider every silo and gateway registers.</summary>
    public const string Provider = "relay";

    /// <summary>Grain storage that the stream pub-sub and the peer grains use.</summary>
    public const string Storage = "relay";

    public const string Namespace = "gateway";

    public static StreamId For(string gatewayId) => StreamId.Create(Namespace, gatewayId);
}

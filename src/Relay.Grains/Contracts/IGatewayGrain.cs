namespace Relay.Grains.Contracts;

/// <summary>
/// One gateway (key: its <c>GatewayIdentity</c> id) as the cluster knows it: the address of its
/// <see cref="IGatewayInbox"/>, which other gateways look up once per link.
/// </summary>
[Alias("relay.IGatewayGrain")]
public interface IGatewayGrain : IGrainWithStringKey
{
    /// <summary>The gateway says where its inbox is (at start, before any other gateway can learn its id).</summary>
    [Alias("Register")]
    Task Register(IGatewayInbox inbox);

    /// <summary>The gateway's inbox, or null when it never registered or has stopped.</summary>
    [Alias("GetInbox")]
    Task<IGatewayInbox?> GetInbox();

    /// <summary>The gateway stops: forget its inbox.</summary>
    [Alias("Unregister")]
    Task Unregister();
}

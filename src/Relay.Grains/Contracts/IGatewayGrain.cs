using Orleans.Concurrency;

namespace Relay.Grains.Contracts;

/// <summary>
/// One gateway (key: its <c>GatewayIdentity</c> id) as the cluster knows it: the address of its
/// <see cref="IGatewayInbox"/>, which other gateways look up once per link, and whether it is still reporting, which
/// peer grains ask before they reap a connection of it on an expired lease.
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

    /// <summary>The gateway is alive: its liveness reporter says so once per report interval, whether or not it has
    /// frames to report. Kept in memory only: a write per gateway every interval would make a storage outage look like
    /// the death of every gateway.</summary>
    [Alias("Heartbeat"), AlwaysInterleave]
    Task Heartbeat();

    /// <summary>Whether the gateway said <see cref="Heartbeat"/> within <c>LivenessOptions.GatewaySilence</c>. False for
    /// an activation that has heard nothing yet (its silo died with the last heartbeat), as for a gateway that died.</summary>
    [Alias("IsReporting"), AlwaysInterleave]
    Task<bool> IsReporting();

    /// <summary>The gateway stops: forget its inbox.</summary>
    [Alias("Unregister")]
    Task Unregister();
}

using Relay.Grains.Contracts;

namespace Relay.Grains.Peers;

/// <summary>What a peer grain persists, so that a reminder re-activating it after a silo failure can still reap
/// the connections of gateways that died with it.</summary>
[GenerateSerializer, Alias("relay.PeerState")]
public sealed class PeerState
{
    /// <summary>Live connections and the unix time of the last frame their gateway reported.</summary>
    [Id(0)] public Dictionary<ConnectionKey, double> Connections { get; set; } = [];

    [Id(1)] public byte[] Metadata { get; set; } = "{}"u8.ToArray();

    [Id(2)] public double LastSeen { get; set; }

    /// <summary>Grows each time the peer comes online from offline; lets gateways discard a late "reaped"
    /// event about an earlier incarnation.</summary>
    [Id(3)] public long Incarnation { get; set; }

    /// <summary>The principal every live connection authenticated as (null when auth is off); set when the peer
    /// comes online, so that another principal cannot take the id while it is.</summary>
    [Id(4)] public string? Principal { get; set; }
}

using Relay.Grains.Contracts;

namespace Relay.Grains.Peers;

/// <summary>What a peer grain persists, so that a reminder re-activating it after a silo failure can still reap
/// the connections of gateways that died with it.</summary>
[GenerateSerializer, Alias("relay.PeerState")]
public sealed class PeerState
{
    [Id(0)] public Dictionary<ConnectionKey, ConnectionLease> Connections { get; set; } = [];

    [Id(1)] public byte[] Metadata { get; set; } = "{}"u8.ToArray();

    [Id(2)] public double LastSeen { get; set; }

    /// <summary>Grows each time the peer comes online from offline; lets gateways discard late news about an
    /// earlier incarnation.</summary>
    [Id(3)] public long Incarnation { get; set; }
}

/// <summary>A connection's lease: the unix time of the last frame its gateway reported, and its agents.</summary>
[GenerateSerializer, Alias("relay.ConnectionLease")]
public sealed class ConnectionLease
{
    [Id(0)] public double LastFrame { get; set; }

    [Id(1)] public string[]? Agents { get; set; }
}

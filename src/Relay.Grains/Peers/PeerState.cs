using Relay.Grains.Contracts;

namespace Relay.Grains.Peers;

/// <summary>What a peer grain persists while the peer is online (or its id bound to a principal), so that a reminder re-activating it after a silo failure can still reap
/// the connections of gateways that died with it. Plain lists and scalars only: grain storage providers
/// serialize state as JSON, where a dictionary with a composite key does not round-trip.</summary>
[GenerateSerializer, Alias("relay.PeerState")]
public sealed class PeerState
{
    [Id(0)] public List<ConnectionLease> Connections { get; set; } = [];

    [Id(1)] public byte[] Metadata { get; set; } = "{}"u8.ToArray();

    [Id(2)] public double LastSeen { get; set; }

    /// <summary>Grows each time the peer comes online from offline; lets gateways discard late news about an
    /// earlier incarnation.</summary>
    [Id(3)] public long Incarnation { get; set; }

    /// <summary>The principal every live connection authenticated as (null when auth is off); set when the peer
    /// comes online, so that another principal cannot take the id while it is.</summary>
    [Id(4)] public string? Principal { get; set; }

    /// <summary>Offline, the id stays bound to <see cref="Principal"/> until this unix time (seconds): the grace a
    /// reaped or reconnecting owner has before another principal may take the id. 0 when not bound.</summary>
    [Id(5)] public double BoundUntil { get; set; }

    public ConnectionLease? Find(ConnectionKey key) =>
        Connections.Find(c => c.ConnectionId == key.ConnectionId && c.GatewayId == key.GatewayId);
}

/// <summary>A connection's lease: the unix time of the last frame its gateway reported, and its agents.</summary>
[GenerateSerializer, Alias("relay.ConnectionLease")]
public sealed class ConnectionLease
{
    [Id(0)] public string GatewayId { get; set; } = "";

    [Id(1)] public long ConnectionId { get; set; }

    [Id(2)] public double LastFrame { get; set; }

    [Id(3)] public string[]? Agents { get; set; }

    public ConnectionKey ToKey() => new(GatewayId, ConnectionId);
}

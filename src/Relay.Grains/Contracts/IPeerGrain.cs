namespace Relay.Grains.Contracts;

/// <summary>
/// One peer id of one mesh (key: <c>mesh/peerId</c>): its connections on every gateway, its latest metadata,
/// and the decision "online" or "offline". Offline is decided exactly once per incarnation: when the last
/// connection goes (the gateway then announces it) or when every remaining connection's lease ran out
/// because its gateway stopped reporting (the grain announces it through the mesh grain).
/// </summary>
[Alias("relay.IPeerGrain")]
public interface IPeerGrain : IGrainWithStringKey
{
    /// <summary>Adds a connection (its first presence). Returns the peer's incarnation, which grows each time
    /// the peer comes online from offline, whether this call brought it online, and the mesh's gateways.
    /// <paramref name="principal"/> is who authenticated the connection (null when auth is off): while the peer has
    /// live connections of another principal, anywhere in the cluster, the connection is refused
    /// (<see cref="PeerJoin.Refused"/>) and nothing about the peer changes.</summary>
    [Alias("Connect")]
    Task<PeerJoin> Connect(MemberConnection connection, Immutable<byte[]> metadata, double now, string? principal = null);

    /// <summary>Replaces the metadata (and the connection's agents) after a later presence with different
    /// <c>data</c>. Returns the mesh's gateways.</summary>
    [Alias("UpdateMetadata")]
    Task<string[]> UpdateMetadata(MemberConnection connection, Immutable<byte[]> metadata, double now);

    /// <summary>Removes a connection (closed, or reaped by its gateway). <see cref="PeerLeave.WentOffline"/> is
    /// true when it was the last one: the caller announces offline.</summary>
    [Alias("Disconnect")]
    Task<PeerLeave> Disconnect(ConnectionKey connection);

    /// <summary>Extends the leases of a gateway's connections of this peer: their last frame was at
    /// <paramref name="lastFrame"/> (unix seconds).</summary>
    [Alias("Renew")]
    Task Renew(string gatewayId, long[] connectionIds, double lastFrame);

    /// <summary>A gateway holding connections of this peer may be dead (a silo died, and no live silo renews for
    /// it): reap them when their leases run out. The call is what counts: it re-activates a grain whose activation, and
    /// with it the reap timer, died with a silo, so that the reap does not wait for the reminder (a minute at best). It
    /// returns once the grain is active, so that a caller can try again when it could not be (storage down).
    /// Interleaved: the caller (a mesh grain) waits on it while this grain may be waiting on the caller, and all it
    /// does is arm a timer.</summary>
    [Alias("WatchLeases"), AlwaysInterleave]
    Task WatchLeases();

    /// <summary>The incarnation the peer is online as (it has a connection, a lease, on some gateway), or 0 when it has
    /// none: asked by a mesh grain whose roster lacks a peer that a gateway believes online. Interleaved, like
    /// <see cref="WatchLeases"/>: the caller waits on it while this grain may be waiting on the caller; it only reads.</summary>
    [Alias("OnlineIncarnation"), AlwaysInterleave]
    Task<long> OnlineIncarnation();

    /// <summary>The connections this grain believes are alive (for tests and diagnostics).</summary>
    [Alias("GetConnections")]
    Task<ConnectionKey[]> GetConnections();
}

[GenerateSerializer, Immutable, Alias("relay.PeerJoin")]
public sealed record PeerJoin(
    [property: Id(0)] long Incarnation,
    [property: Id(1)] bool CameOnline,
    [property: Id(2)] string[] Gateways)
{
    /// <summary>The peer id is online under another principal: the connection was not added.</summary>
    [Id(3)]
    public bool Refused { get; init; }
}

[GenerateSerializer, Immutable, Alias("relay.PeerLeave")]
public sealed record PeerLeave(
    [property: Id(0)] bool WentOffline,
    [property: Id(1)] long Incarnation,
    [property: Id(2)] string[] Gateways);

namespace Relay.Grains.Contracts;

/// <summary>
/// One mesh (key: mesh name): the roster of online peers (metadata and connections, what a gateway opening the
/// mesh and <c>/invocations</c> read) and the gateways that hold its members. Only peer grains change the
/// roster, each inside its own turn, so a peer's joins and leaves reach it in the order they happened.
/// </summary>
[Alias("relay.IMeshGrain")]
public interface IMeshGrain : IGrainWithStringKey
{
    /// <summary>A gateway starts serving the mesh: it gets the roster and the other gateways, and the other
    /// gateways are told about it.</summary>
    [Alias("Open")]
    Task<MeshSnapshot> Open(string gatewayId);

    /// <summary>A gateway no longer serves the mesh (its last connection in it closed): the others stop sending it
    /// the mesh's traffic.</summary>
    [Alias("Close")]
    Task Close(string gatewayId);

    /// <summary>A gateway restates the peers it holds (periodically): heals the roster after this grain lost its
    /// activation with a silo. The gateway's connections in the roster become exactly <paramref name="local"/>.
    /// Returns the reaps the gateway may have missed (<see cref="PeerReaped"/>, as the gateways' streams carry them):
    /// stream events are queued on a silo, and those queued on one that died before delivering them are lost, which
    /// would leave the reaped peer in the gateway's view for good. Those are the reaps of the last half minute and, for
    /// each peer of <paramref name="remote"/> (those the gateway believes online through other gateways only) that the
    /// roster does not hold as that incarnation, an offline of it when the incarnation has ended: the roster holds a
    /// newer one, or the peer grain (asked only then) has no connection or a newer incarnation. This activation may be
    /// too young to remember the reap, and the peer grain cleared its state after it. A peer the roster lacks whose
    /// grain still has connections is left alone: the roster lost it with an activation, and its gateway restates it.
    /// The first <see cref="PeerIncarnation.MaxPerRefresh"/> of <paramref name="remote"/> are looked at, and a bounded
    /// number of peer grains asked, at once; the rest at a later refresh.</summary>
    [Alias("RefreshRoster")]
    Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local, PeerIncarnation[] remote);

    /// <summary><see cref="Refresh(string, RosterEntry[], PeerIncarnation[])"/> naming no remote peer: the restatement
    /// of gateways of earlier releases, which answers with the reaps of the last half minute only.</summary>
    [Alias("Refresh")]
    Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local);

    /// <summary>Records a peer's current state. Returns every gateway of the mesh.</summary>
    [Alias("Upsert")]
    Task<string[]> Upsert(RosterEntry entry);

    /// <summary>The peer went offline and a gateway announces it. Returns every gateway of the mesh.</summary>
    [Alias("Remove")]
    Task<string[]> Remove(string peerId);

    /// <summary>The peer grain expired connections whose gateways stopped reporting: tell every gateway of the
    /// mesh (which drop those connections and, when <paramref name="offline"/>, announce offline).</summary>
    [Alias("Expired")]
    Task Expired(string peerId, long incarnation, ConnectionKey[] connections, bool offline, RosterEntry? remaining);

    /// <summary>
    /// <paramref name="reporter"/>, a gateway serving this mesh, saw <paramref name="lostGateway"/>'s node declared
    /// dead: the peer grains of its connections may have died with it. Every peer of the roster with a connection
    /// there, and the <paramref name="peerIds"/> the reporter knows there (this activation may be too young to know
    /// them: the roster is kept in memory), is told to watch its leases, so that each reaps on time and offline goes
    /// out once. The reporter counts among the gateways that hear of it.
    /// </summary>
    [Alias("GatewayLost")]
    Task GatewayLost(string reporter, string lostGateway, string[] peerIds);

    [Alias("GetRoster")]
    Task<RosterEntry[]> GetRoster();
}

namespace Relay.Grains.Contracts;

/// <summary>
/// One mesh (key: mesh name): the roster of online peers with their latest metadata (what a newcomer's
/// snapshot and <c>/invocations</c> show) and the gateways that hold its members. Only peer grains change
/// it, each inside its own turn, so a peer's joins and leaves reach the roster in the order they happened.
/// </summary>
[Alias("relay.IMeshGrain")]
public interface IMeshGrain : IGrainWithStringKey
{
    [Alias("Upsert")]
    Task Upsert(RosterEntry entry, string gatewayId);

    /// <summary>The peer went offline and a gateway announces it.</summary>
    [Alias("Remove")]
    Task Remove(string peerId);

    /// <summary>The peer grain reaped the peer because its gateways stopped reporting: tell every gateway of the
    /// mesh, which unregisters the listed connections it holds and announces offline to its members.</summary>
    [Alias("Reaped")]
    Task Reaped(string peerId, long incarnation, ConnectionKey[] connections);

    [Alias("GetRoster")]
    Task<RosterEntry[]> GetRoster();
}

namespace Relay.Gateway.Routing;

/// <summary>Hears of membership transitions on this node, after <see cref="PeerMembership"/> made them (the
/// dashboard's disconnect log listens). Called under the peer's transition gate: keep it short.</summary>
internal interface IMembershipListener
{
    /// <summary>A connection of <paramref name="peerId"/> was unregistered after the stale timeout (its socket
    /// stays open).</summary>
    void Reaped(string mesh, string peerId);
}

namespace Relay.Protocol;

/// <summary>What <see cref="DirectAddressing"/> needs to know about the mesh, supplied by the gateway.</summary>
public interface IAgentDirectory<TConnection>
    where TConnection : class
{
    /// <summary>True when <paramref name="peerId"/> is a registered peer of the mesh, on any node.</summary>
    bool IsOnlinePeer(string peerId);

    /// <summary>
    /// Adds to <paramref name="into"/> every registered connection (of any peer, the sender's own
    /// included) whose latest presence lists <paramref name="agent"/> in <c>data.agents</c>.
    /// </summary>
    void FindAgentListings(string agent, List<AgentListing<TConnection>> into);
}

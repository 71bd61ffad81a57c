namespace Relay.Protocol;

/// <summary>Outcome of resolving a <c>direct</c> frame's target.</summary>
public enum DirectRoute
{
    /// <summary>Deliver to every connection of the peer id.</summary>
    Peer,

    /// <summary>The sender addressed one of its own agents: deliver nowhere, no error.</summary>
    LocalConversation,

    /// <summary>Deliver to the single connection listing the agent.</summary>
    AgentConnection,

    /// <summary>Several connections list the agent: answer <see cref="ErrorCodes.AmbiguousTarget"/>.</summary>
    Ambiguous,

    /// <summary>Nothing matches: answer <see cref="ErrorCodes.UnknownTarget"/>.</summary>
    Unknown,
}

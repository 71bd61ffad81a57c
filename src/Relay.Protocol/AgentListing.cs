namespace Relay.Protocol;

/// <summary>A connection whose latest presence lists a given agent, and the peer it belongs to.</summary>
public readonly record struct AgentListing<TConnection>(string PeerId, TConnection Connection);

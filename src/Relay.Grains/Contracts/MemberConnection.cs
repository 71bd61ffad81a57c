namespace Relay.Grains.Contracts;

/// <summary>One registered connection of a peer and the agents its latest presence lists (for agent-addressed
/// direct frames on other gateways).</summary>
[GenerateSerializer, Immutable, Alias("relay.MemberConnection")]
public sealed record MemberConnection([property: Id(0)] ConnectionKey Key, [property: Id(1)] string[]? Agents);

namespace Relay.Protocol;

/// <summary>
/// Where a <c>direct</c> frame goes. <see cref="PeerId"/> is set for <see cref="DirectRoute.Peer"/> and
/// <see cref="DirectRoute.AgentConnection"/>, <see cref="Connection"/> for the latter only, and
/// <see cref="Candidates"/> (distinct peer ids, ordinal order) for <see cref="DirectRoute.Ambiguous"/>.
/// </summary>
public readonly record struct DirectResolution<TConnection>(DirectRoute Route, string? PeerId, TConnection? Connection, string[]? Candidates)
    where TConnection : class;

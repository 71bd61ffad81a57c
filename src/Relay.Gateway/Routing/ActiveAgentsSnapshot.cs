namespace Relay.Gateway.Routing;

/// <summary>The agents a mesh's registered connections list, in ordinal order, and the same as the JSON array a
/// <c>capabilities_response</c> carries in <c>data.activeAgents</c> (see <see cref="MeshMembership.ActiveAgentListing"/>).</summary>
internal sealed record ActiveAgentsSnapshot(string[] Agents, byte[] JsonArray);

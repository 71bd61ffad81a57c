namespace Relay.Gateway.Routing;

/// <summary>An online peer of a mesh as this node sees it (for the dashboard): its redacted presence metadata and how
/// many of its connections are on this node and on other gateways.</summary>
internal readonly record struct PeerSummary(string PeerId, byte[] Metadata, int Local, int Remote, double LastSeen);

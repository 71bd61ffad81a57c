namespace Relay.Grains.Contracts;

/// <summary>An online peer as the mesh grain knows it: latest presence metadata (raw JSON), when it was last seen
/// (unix seconds), its incarnation and its connections on every gateway.</summary>
[GenerateSerializer, Immutable, Alias("relay.RosterEntry")]
public sealed record RosterEntry(
    [property: Id(0)] string PeerId,
    [property: Id(1)] byte[] Metadata,
    [property: Id(2)] double LastSeen,
    [property: Id(3)] long Incarnation,
    [property: Id(4)] MemberConnection[] Connections);

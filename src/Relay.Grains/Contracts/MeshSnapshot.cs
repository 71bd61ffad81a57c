namespace Relay.Grains.Contracts;

/// <summary>What a gateway learns when it opens a mesh: the roster and the gateways that hold members.</summary>
[GenerateSerializer, Immutable, Alias("relay.MeshSnapshot")]
public sealed record MeshSnapshot([property: Id(0)] RosterEntry[] Roster, [property: Id(1)] string[] Gateways);

namespace Relay.Grains.Contracts;

/// <summary>An online peer as newcomers' snapshots show it: its latest presence metadata (raw JSON) and when
/// it was last seen (unix seconds).</summary>
[GenerateSerializer, Immutable, Alias("relay.RosterEntry")]
public sealed record RosterEntry(
    [property: Id(0)] string PeerId,
    [property: Id(1)] byte[] Metadata,
    [property: Id(2)] double LastSeen);

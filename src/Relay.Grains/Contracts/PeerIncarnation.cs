namespace Relay.Grains.Contracts;

/// <summary>A peer a gateway believes online through other gateways' connections only, and the incarnation it knows
/// (what <see cref="IMeshGrain.Refresh(string, RosterEntry[], PeerIncarnation[])"/> checks against the roster).</summary>
[GenerateSerializer, Immutable, Alias("relay.PeerIncarnation")]
public sealed record PeerIncarnation([property: Id(0)] string PeerId, [property: Id(1)] long Incarnation)
{
    /// <summary>The most a gateway names in one refresh (the mesh grain looks at no more): a mesh's peer limit at its
    /// default, so that a gateway cannot make the grain's turn as long as it likes.</summary>
    public const int MaxPerRefresh = 1_000;
}

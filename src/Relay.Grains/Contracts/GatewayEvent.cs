namespace Relay.Grains.Contracts;

/// <summary>What the cluster tells one gateway, on that gateway's own stream (see <see cref="GatewayStreams"/>).</summary>
[GenerateSerializer, Immutable, Alias("relay.GatewayEvent")]
public abstract record GatewayEvent;

/// <summary>A peer grain reaped <paramref name="PeerId"/> (incarnation <paramref name="Incarnation"/>) because no
/// gateway reported it alive: unregister the listed connections held here and announce offline to the mesh.</summary>
[GenerateSerializer, Immutable, Alias("relay.PeerReaped")]
public sealed record PeerReaped(
    [property: Id(0)] string Mesh,
    [property: Id(1)] string PeerId,
    [property: Id(2)] long Incarnation,
    [property: Id(3)] ConnectionKey[] Connections) : GatewayEvent;

namespace Relay.Grains.Contracts;

/// <summary>What one gateway receives on its own stream (see <see cref="GatewayStreams"/>): decisions of grains.
/// Other gateways' frames and membership changes come to its <see cref="IGatewayInbox"/> instead.</summary>
[GenerateSerializer, Immutable, Alias("relay.GatewayEvent")]
public abstract record GatewayEvent;

/// <summary>A peer grain expired <paramref name="Connections"/> of <paramref name="PeerId"/> (incarnation
/// <paramref name="Incarnation"/>) because their gateways stopped reporting. The gateway drops those it knows;
/// when <paramref name="Offline"/>, the peer has no connection left and offline is announced.</summary>
[GenerateSerializer, Immutable, Alias("relay.PeerReaped")]
public sealed record PeerReaped(
    [property: Id(0)] string Mesh,
    [property: Id(1)] string PeerId,
    [property: Id(2)] long Incarnation,
    [property: Id(3)] ConnectionKey[] Connections,
    [property: Id(4)] bool Offline = true) : GatewayEvent;

/// <summary>A gateway started serving <paramref name="Mesh"/>: send it the mesh's traffic from now on.</summary>
[GenerateSerializer, Immutable, Alias("relay.GatewayJoinedMesh")]
public sealed record GatewayJoinedMesh([property: Id(0)] string Mesh, [property: Id(1)] string GatewayId) : GatewayEvent;

/// <summary>A gateway stopped serving <paramref name="Mesh"/> (closed, or presumed dead): stop sending it traffic.</summary>
[GenerateSerializer, Immutable, Alias("relay.GatewayLeftMesh")]
public sealed record GatewayLeftMesh([property: Id(0)] string Mesh, [property: Id(1)] string GatewayId) : GatewayEvent;

namespace Relay.Grains.Contracts;

/// <summary>What one gateway receives on its own stream (see <see cref="GatewayStreams"/>): frames and
/// membership changes from other gateways (<see cref="LinkBatch"/>), and decisions of grains.</summary>
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

/// <summary>
/// What one gateway sends another, in order: one publisher per (source, destination) link keeps every
/// sender's frames in the order it sent them, across all types. <paramref name="Sequence"/> counts batches on
/// the link, so the receiver can tell (and report) when batches were lost.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.LinkBatch")]
public sealed record LinkBatch(
    [property: Id(0)] string SourceGateway,
    [property: Id(1)] long Sequence,
    [property: Id(2)] LinkItem[] Items) : GatewayEvent;

public enum LinkItemKind
{
    /// <summary>A connection registered (first presence): add it, then fan out its presence.</summary>
    Joined,

    /// <summary>A later presence: new agents/metadata, then fan out.</summary>
    Updated,

    /// <summary>A connection left while its peer keeps others.</summary>
    Left,

    /// <summary>The peer's last connection left: announce offline.</summary>
    Offline,

    /// <summary>A broadcast-class frame for every member of the mesh but the sender's connections.</summary>
    Broadcast,

    /// <summary>A direct frame for every connection of <see cref="LinkItem.Target"/> held by the receiver.</summary>
    ToPeer,

    /// <summary>A direct frame for one connection (<see cref="LinkItem.TargetConnection"/>) of the receiver.</summary>
    ToConnection,
}

/// <summary>One entry of a <see cref="LinkBatch"/>. <see cref="Frame"/> is the stamped frame as it goes out to
/// clients; it is forwarded as is.</summary>
[GenerateSerializer, Immutable, Alias("relay.LinkItem")]
public sealed record LinkItem(
    [property: Id(0)] LinkItemKind Kind,
    [property: Id(1)] string Mesh,
    [property: Id(2)] string PeerId,
    [property: Id(3)] long Incarnation,
    [property: Id(4)] long ConnectionId,
    [property: Id(5)] byte[]? Frame,
    [property: Id(6)] string? Target = null,
    [property: Id(7)] long TargetConnection = 0,
    [property: Id(8)] string[]? Agents = null,
    [property: Id(9)] byte[]? Metadata = null,
    [property: Id(10)] double LastSeen = 0,
    [property: Id(11)] ulong EchoHash = 0);

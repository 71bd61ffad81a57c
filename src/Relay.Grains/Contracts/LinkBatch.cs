namespace Relay.Grains.Contracts;

/// <summary>
/// What one gateway sends another (to its <see cref="IGatewayInbox"/>), in order: one sender per (source,
/// destination) link numbers its batches, and the receiver applies them in that order, which keeps every sender's
/// frames in the order it sent them, across all types. <paramref name="Sequence"/> also lets the receiver tell (and
/// report) when batches were lost, and drop a batch it already has. <paramref name="TraceParent"/> is the W3C
/// <c>traceparent</c> of the sender's span for this batch, when it is traced (null otherwise): the receiver's span
/// for the batch links to it. It travels with the batch rather than with the call because a batch that overtook an
/// earlier one is applied later, during the call that brings the missing one. <paramref name="Acknowledged"/>, when
/// above 0, acknowledges the reverse link (destination to source) up to that sequence number, as
/// <see cref="IGatewayInbox.Acknowledge"/> would: a link busy both ways carries its acknowledgements on its batches.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.LinkBatch")]
public sealed record LinkBatch(
    [property: Id(0)] string SourceGateway,
    [property: Id(1)] long Sequence,
    [property: Id(2)] LinkItem[] Items,
    [property: Id(3)] string? TraceParent = null,
    [property: Id(4)] long Acknowledged = 0)
{
    /// <summary>
    /// How many batches a link has unacknowledged at most: it sends batch <c>n</c> only once batch
    /// <c>n - MaxInFlight</c> has been acknowledged or given up. Batches on the way together may arrive in any order,
    /// so the receiver puts them back in sequence; and a batch numbered <c>n</c> tells it that the sender is done with
    /// every batch up to <c>n - MaxInFlight</c>, so one of those still missing will never come. Part of the link
    /// protocol: every gateway of a cluster must use the same value.
    /// </summary>
    public const int MaxInFlight = 8;
}

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

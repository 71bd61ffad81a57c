using Orleans.Concurrency;

namespace Relay.Grains.Contracts;

/// <summary>
/// Where a gateway receives other gateways' link batches, and the acknowledgements of its own: an Orleans observer
/// that the gateway creates for its own lifetime and registers with its <see cref="IGatewayGrain"/>. Both calls are
/// one-way: a link sends its batches without waiting for each, up to <see cref="LinkBatch.MaxInFlight"/> of them
/// unacknowledged, and the receiver puts them back in order by sequence number and acknowledges them cumulatively on
/// the reverse link. A batch lost on the way (a silo dying with it) is found by its missing acknowledgement (the
/// sender sends it again, then gives it up and tells its senders) and by its gap (the receiver tells its receivers).
/// </summary>
[Alias("relay.IGatewayInbox")]
public interface IGatewayInbox : IGrainObserver
{
    /// <summary>A batch of the link from <see cref="LinkBatch.SourceGateway"/> to this gateway.</summary>
    [Alias("Deliver"), OneWay]
    Task Deliver(LinkBatch batch);

    /// <summary><paramref name="destinationGateway"/> has applied (or given up) every batch of this gateway's link to
    /// it up to and including <paramref name="upToSequence"/>. Cumulative: a later one covers any lost before it.</summary>
    [Alias("Acknowledge"), OneWay]
    Task Acknowledge(string destinationGateway, long upToSequence);
}

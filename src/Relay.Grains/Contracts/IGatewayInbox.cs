namespace Relay.Grains.Contracts;

/// <summary>
/// Where a gateway receives other gateways' link batches: an Orleans observer that the gateway creates for its own
/// lifetime and registers with its <see cref="IGatewayGrain"/>. A batch is one call from the sending gateway to the
/// receiving one, awaited: when the call returns, the receiver has applied the batch (queued its frames for its
/// clients), so a link sends its next batch only after the previous one arrived, which keeps per-sender order.
/// </summary>
[Alias("relay.IGatewayInbox")]
public interface IGatewayInbox : IGrainObserver
{
    [Alias("Deliver")]
    Task Deliver(LinkBatch batch);
}

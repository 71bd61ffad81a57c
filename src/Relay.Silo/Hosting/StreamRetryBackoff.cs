using Orleans.Internal;
using Orleans.Runtime.Providers;

namespace Relay.Silo.Hosting;

/// <summary>
/// How long a stream pulling agent waits before retrying a failed queue read or event delivery: doubling from
/// <paramref name="first"/> up to <paramref name="cap"/>. Orleans' defaults (reads 10-20 s, deliveries 1-30 s) suit
/// durable queues behind a network; the relay's queues are in-memory grains, and a read fails when the silo that
/// held one died. With the defaults, every gateway sharing that queue heard nothing for 10-12 s after a silo loss;
/// retrying within a second lets them resume as soon as the queue is re-activated on a survivor.
/// </summary>
internal sealed class StreamRetryBackoff(TimeSpan first, TimeSpan cap) : IQueueReaderBackoffProvider, IMessageDeliveryBackoffProvider
{
    public TimeSpan Next(int attempt)
    {
        var delay = first * Math.Pow(2, Math.Clamp(attempt, 0, 30));
        return delay < cap ? delay : cap;
    }
}

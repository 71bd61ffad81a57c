namespace Relay.Protocol;

/// <summary>
/// Token bucket for the per-connection inbound rate limits (frames, and bytes: one token per byte), the error-frame
/// limit and the connect rate per client address.
/// </summary>
/// <remarks>
/// Hand-written on purpose: System.Threading.RateLimiting's TokenBucketRateLimiter needs a timer or
/// an external replenishment call per instance and allocates a lease per acquisition, too heavy for
/// one (or two) per WebSocket at streaming rates. This one refills lazily from the elapsed time the
/// caller passes in and allocates nothing. It takes no lock of its own: every owner already serialises its calls
/// (a connection's reader is the only one to use its inbound buckets; the error gate and the connect-rate limiter
/// call it under their locks), and a lock per bucket cost each connection three more objects.
/// </remarks>
public sealed class TokenBucket
{
    private readonly double _tokensPerTick;
    private readonly double _burst;
    private double _tokens;
    private long _last;

    /// <param name="ratePerSecond">Sustained tokens per second.</param>
    /// <param name="burst">Capacity; the bucket starts full.</param>
    /// <param name="now">Current timestamp in the caller's monotonic unit.</param>
    /// <param name="ticksPerSecond">Timestamp units per second (e.g. <c>Stopwatch.Frequency</c>).</param>
    public TokenBucket(double ratePerSecond, int burst, long now, long ticksPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ticksPerSecond);
        _tokensPerTick = ratePerSecond / ticksPerSecond;
        _burst = burst;
        _tokens = burst;
        _last = now;
    }

    /// <summary>Refills by the time elapsed since the last call, then takes one token if there is one.</summary>
    public bool TryTake(long now) => TryTake(now, 1);

    /// <summary>Refills by the time elapsed since the last call, then takes <paramref name="count"/> tokens if there
    /// are that many (all or none: more than the burst never passes).</summary>
    public bool TryTake(long now, long count)
    {
        Refill(now);
        if (_tokens >= count)
        {
            _tokens -= count;
            return true;
        }

        return false;
    }

    /// <summary>True when the bucket has refilled to its burst by <paramref name="now"/>: it then behaves exactly as a
    /// new one, so whoever keeps buckets per key may forget it.</summary>
    public bool IsFull(long now)
    {
        Refill(now);
        return _tokens >= _burst;
    }

    private void Refill(long now)
    {
        // Timestamps taken on different threads may arrive out of order; never refill backwards.
        if (now > _last)
        {
            _tokens = Math.Min(_burst, _tokens + ((now - _last) * _tokensPerTick));
            _last = now;
        }
    }
}

using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// Rate limit for the relay's own error frames to one connection: a client that floods bad frames gets a few
/// errors per second and then one <c>errors_suppressed</c> summary with the count, not an error per frame.
/// </summary>
internal sealed class ErrorGate(TokenBucket bucket)
{
    private readonly Lock _lock = new();
    private long _suppressed;

    /// <summary>True when an error may be sent now; otherwise it is counted for the next summary.</summary>
    public bool TryPass(long now)
    {
        lock (_lock)
        {
            if (bucket.TryTake(now)) return true;
            _suppressed++;
            return false;
        }
    }

    /// <summary>The number of suppressed errors to report now (0 when there are none or no token is free).</summary>
    public long TakeSummary(long now)
    {
        lock (_lock)
        {
            if (_suppressed == 0 || !bucket.TryTake(now)) return 0;
            var count = _suppressed;
            _suppressed = 0;
            return count;
        }
    }
}

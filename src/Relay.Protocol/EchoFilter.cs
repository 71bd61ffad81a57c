namespace Relay.Protocol;

/// <summary>
/// Echo suppression memory of one connection (protocol.md "Echo suppression"): hashes of the
/// suppressible frames recently delivered TO it. A frame it then sends with one of those hashes is
/// the client re-broadcasting what it just received, and is dropped.
/// </summary>
/// <remarks>
/// Fan-out threads record while the connection's reader checks, so both take a lock; the critical
/// sections are a store or a scan of a small fixed array, far cheaper than anything lock-free
/// would need to be correct here. Timestamps are in whatever monotonic unit the caller uses
/// consistently (Stopwatch or TimeProvider ticks).
/// </remarks>
public sealed class EchoFilter
{
    private readonly Lock _gate = new();
    private readonly ulong[] _hashes;
    private readonly long[] _times;
    private readonly long _windowTicks;
    private int _next;
    private int _count;

    public EchoFilter(int capacity, long windowTicks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegative(windowTicks);
        _hashes = new ulong[capacity];
        _times = new long[capacity];
        _windowTicks = windowTicks;
    }

    /// <summary>Remembers a frame delivered to this connection, overwriting the oldest entry when full.</summary>
    public void RecordDelivered(ulong hash, long now)
    {
        lock (_gate)
        {
            _hashes[_next] = hash;
            _times[_next] = now;
            _next = _next + 1 == _hashes.Length ? 0 : _next + 1;
            if (_count < _hashes.Length)
            {
                _count++;
            }
        }
    }

    /// <summary>True when a frame with this hash was delivered to this connection less than the window ago.</summary>
    public bool IsEcho(ulong hash, long now)
    {
        lock (_gate)
        {
            for (var i = 0; i < _count; i++)
            {
                // A recording racing with this check may carry a slightly later timestamp than `now`;
                // a negative age is still "recent".
                if (_hashes[i] == hash && now - _times[i] < _windowTicks)
                {
                    return true;
                }
            }

            return false;
        }
    }
}

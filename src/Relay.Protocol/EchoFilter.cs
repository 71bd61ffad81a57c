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
/// consistently (Stopwatch or TimeProvider ticks). The lock may be its owner's (one per connection, shared with its
/// send queue): the sections here take no other lock.
/// </remarks>
public sealed class EchoFilter
{
    /// <summary>The first allocation, on the first recording: doubled up to the capacity as deliveries come.</summary>
    private const int InitialEntries = 8;

    private readonly Lock _gate;
    private readonly int _capacity;
    private readonly long _windowTicks;

    // Allocated on the first recording and grown up to the capacity: a connection that never receives a suppressible
    // frame (most of an idle mesh) holds none of it.
    private Entry[]? _entries;
    private int _next;
    private int _count;

    /// <param name="gate">The lock to take; a new one when null.</param>
    public EchoFilter(int capacity, long windowTicks, Lock? gate = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegative(windowTicks);
        _capacity = capacity;
        _windowTicks = windowTicks;
        _gate = gate ?? new();
    }

    /// <summary>Remembers a frame delivered to this connection, overwriting the oldest entry when full.</summary>
    public void RecordDelivered(ulong hash, long now)
    {
        lock (_gate)
        {
            var entries = _entries;
            if (entries is null || (_count == entries.Length && entries.Length < _capacity))
            {
                // Until the ring is at its capacity nothing was overwritten: entries 0.._count-1 are oldest to newest,
                // keep their places, and the next one goes after them.
                var grown = new Entry[Math.Min(_capacity, entries is null ? InitialEntries : entries.Length * 2)];
                entries?.CopyTo(grown, 0);
                _entries = entries = grown;
                _next = _count;
            }
            entries[_next] = new Entry(hash, now);
            _next = _next + 1 == entries.Length ? 0 : _next + 1;
            if (_count < entries.Length)
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
            var entries = _entries;
            for (var i = 0; i < _count; i++)
            {
                // A recording racing with this check may carry a slightly later timestamp than `now`;
                // a negative age is still "recent".
                if (entries![i].Hash == hash && now - entries[i].Time < _windowTicks)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private readonly record struct Entry(ulong Hash, long Time);
}

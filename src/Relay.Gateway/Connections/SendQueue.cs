namespace Relay.Gateway.Connections;

/// <summary>
/// The frames waiting to be written to one socket, bounded in bytes (not frames: one 1 MiB frame weighs as
/// much as ten thousand small ones). When a frame does not fit, the oldest droppable frames (broadcast-class)
/// are evicted first; presence and direct frames are only refused when nothing droppable is left. Whatever
/// was dropped is counted so the consumer can be told once it drains.
/// </summary>
/// <remarks>
/// Many readers enqueue, one writer dequeues; a plain lock is cheaper here than a lock-free structure that
/// would need per-item nodes. Frames are shared byte arrays: a broadcast enqueues the same array for every
/// recipient, so the queue never copies.
/// </remarks>
internal sealed class SendQueue(long byteLimit)
{
    private struct Entry
    {
        public byte[]? Frame;
        public bool Droppable;
        public long ReceivedAt;
    }

    private readonly Lock _lock = new();
    private Entry[] _ring = new Entry[16];
    private int _head;
    private int _count;
    private long _bytes;
    private long _dropped;

    // Entries before head + _scanFrom hold no droppable frame: eviction resumes its search there.
    private int _scanFrom;

    public long Bytes { get { lock (_lock) return _bytes; } }

    public int Count { get { lock (_lock) return _count; } }

    /// <summary>Queues a frame. Returns false when it was dropped (and counted) for lack of room.
    /// <paramref name="receivedAt"/>: when the client frame it carries was received (a timestamp), 0 for frames of the
    /// relay's own; kept in the ring entry, so measuring delivery allocates nothing.</summary>
    public bool TryEnqueue(byte[] frame, bool droppable, long receivedAt = 0)
    {
        lock (_lock)
        {
            while (_bytes + frame.Length > byteLimit && EvictOldestDroppable()) { }
            if (_bytes + frame.Length > byteLimit)
            {
                _dropped++;
                return false;
            }
            if (_count == _ring.Length) Grow();
            ref var slot = ref _ring[(_head + _count) % _ring.Length];
            slot.Frame = frame;
            slot.Droppable = droppable;
            slot.ReceivedAt = receivedAt;
            _count++;
            _bytes += frame.Length;
            return true;
        }
    }

    public bool TryDequeue(out byte[] frame, out long receivedAt)
    {
        lock (_lock)
        {
            while (_count > 0)
            {
                ref var slot = ref _ring[_head];
                var taken = slot.Frame;
                receivedAt = slot.ReceivedAt;
                slot = default;
                _head = (_head + 1) % _ring.Length;
                _count--;
                if (_scanFrom > 0) _scanFrom--;
                if (taken is null) continue; // evicted in place
                _bytes -= taken.Length;
                if (_count == 0 && _ring.Length > 1024) ShrinkEmpty();
                frame = taken;
                return true;
            }
            frame = [];
            receivedAt = 0;
            return false;
        }
    }

    /// <summary>How many frames were dropped since the last call.</summary>
    public long TakeDroppedCount()
    {
        lock (_lock)
        {
            var dropped = _dropped;
            _dropped = 0;
            return dropped;
        }
    }

    private bool EvictOldestDroppable()
    {
        for (var i = _scanFrom; i < _count; i++)
        {
            ref var slot = ref _ring[(_head + i) % _ring.Length];
            if (slot.Frame is null || !slot.Droppable) continue;
            _bytes -= slot.Frame.Length;
            slot.Frame = null;
            _dropped++;
            _scanFrom = i + 1;
            return true;
        }
        _scanFrom = _count;
        return false;
    }

    // A burst may have grown the ring a lot; give the memory back once the consumer caught up.
    private void ShrinkEmpty()
    {
        _ring = new Entry[16];
        _head = 0;
        _scanFrom = 0;
    }

    private void Grow()
    {
        var bigger = new Entry[_ring.Length * 2];
        for (var i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
        _ring = bigger;
        _head = 0;
    }
}

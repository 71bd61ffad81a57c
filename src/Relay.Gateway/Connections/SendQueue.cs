using System.Diagnostics.CodeAnalysis;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// The frames waiting to be written to one socket, bounded in bytes (not frames: one 1 MiB frame weighs as
/// much as ten thousand small ones). When a frame does not fit, the oldest droppable frames (broadcast-class)
/// are evicted first; presence and direct frames are only refused when nothing droppable is left. Whatever
/// was dropped is counted so the consumer can be told once it drains.
/// </summary>
/// <remarks>
/// Many readers enqueue, one writer dequeues; a plain lock is cheaper here than a lock-free structure that
/// would need per-item nodes. Frames are shared: a broadcast enqueues the same <see cref="OutboundFrame"/> for
/// every recipient, so the queue never copies. The queue holds one reference to each frame it keeps, taken when
/// the frame goes in and given back when an eviction drops it; the writer gives back the one it dequeues.
/// <paramref name="gate"/>: the lock to take, when the queue's owner shares one among its parts (a connection's queue
/// and echo memory: neither takes another lock inside it but the frame pool's, so sharing adds no lock order).
/// </remarks>
internal sealed class SendQueue(long byteLimit, Lock? gate = null)
{
    private struct Entry
    {
        public OutboundFrame? Frame;
        public bool Droppable;
        public long ReceivedAt;
    }

    // The ring a queue gets with its first frame, and keeps while it gets frames (120 bytes); a burst doubles it.
    private const int InitialSlots = 4;

    // A newcomer's snapshot (one presence per peer of the mesh) arrives as one burst: a ring left at that size would
    // cost every idle connection 16 bytes per peer of its mesh. Once drained, rings above this go back to the start.
    private const int ShrinkAbove = 64;

    private readonly Lock _lock = gate ?? new();
    // No ring until the first frame, and none again once the queue has had no frame for a while (TrimIfIdle).
    private Entry[] _ring = [];
    private int _head;
    private int _count;
    private long _bytes;
    private long _dropped;

    // Entries before head + _scanFrom hold no droppable frame: eviction resumes its search there.
    private int _scanFrom;

    public long Bytes { get { lock (_lock) return _bytes; } }

    public int Count { get { lock (_lock) return _count; } }

    /// <summary>Slots of the ring as allocated now (what the queue costs while empty).</summary>
    internal int Slots { get { lock (_lock) return _ring.Length; } }

    /// <summary>Monotonic time (of the <see cref="TimeProvider"/> given to <see cref="TryEnqueue"/>) at which the queue last went from empty to
    /// holding a frame: a consumer that waits for nothing has made no progress only since then.</summary>
    public long NonEmptySince { get { lock (_lock) return _nonEmptySince; } }

    private long _nonEmptySince;

    /// <summary>Queues a frame (taking a reference to it). Returns false when it was dropped (and counted) for lack
    /// of room; <paramref name="wasEmpty"/> says the queue held nothing before, so its writer may be idle.
    /// <paramref name="time"/> is read only when the queue was empty (for <see cref="NonEmptySince"/>): a busy queue
    /// takes frames without a clock read each.
    /// <paramref name="receivedAt"/>: when the client frame it carries was received (a timestamp), 0 for frames of the
    /// relay's own; kept in the ring entry, so measuring delivery allocates nothing.</summary>
    public bool TryEnqueue(OutboundFrame frame, bool droppable, TimeProvider time, out bool wasEmpty, long receivedAt = 0)
    {
        lock (_lock)
        {
            wasEmpty = _count == 0;
            while (_bytes + frame.Length > byteLimit && EvictOldestDroppable()) { }
            if (_bytes + frame.Length > byteLimit)
            {
                _dropped++;
                return false;
            }
            if (_count == _ring.Length) Grow();
            if (_count == 0) _nonEmptySince = time.GetTimestamp();
            frame.AddReference();
            ref var slot = ref _ring[(_head + _count) % _ring.Length];
            slot.Frame = frame;
            slot.Droppable = droppable;
            slot.ReceivedAt = receivedAt;
            _count++;
            _bytes += frame.Length;
            return true;
        }
    }

    /// <summary>Takes the oldest frame; the caller owns the queue's reference to it and releases it once written.</summary>
    public bool TryDequeue([NotNullWhen(true)] out OutboundFrame? frame, out long receivedAt)
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
                if (_count == 0 && _ring.Length > ShrinkAbove) ShrinkEmpty();
                frame = taken;
                return true;
            }
            frame = null;
            receivedAt = 0;
            return false;
        }
    }

    /// <summary>Gives back the ring of a queue that is empty and got no frame since <paramref name="quietSince"/> (a
    /// timestamp of the <see cref="TimeProvider"/> given to <see cref="TryEnqueue"/>): called periodically, not per
    /// frame, so a connection that gets nothing holds no ring. Only a quiet one: a peer of a busy mesh gets a frame
    /// every few seconds, and a ring given back at every sweep was a ring allocated for nearly every delivery (at
    /// 18,000 peers and 1,900 deliveries a second, a fifth of the node's allocations,
    /// bench/results/2026-12-04-scale-quiet-5min.md).</summary>
    public void TrimIfIdle(long quietSince)
    {
        lock (_lock)
        {
            if (_count != 0 || _ring.Length == 0 || _nonEmptySince >= quietSince) return;
            _ring = [];
            _head = 0;
            _scanFrom = 0;
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
            slot.Frame.Release();
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
        _ring = new Entry[InitialSlots];
        _head = 0;
        _scanFrom = 0;
    }

    private void Grow()
    {
        var bigger = new Entry[Math.Max(InitialSlots, _ring.Length * 2)];
        for (var i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
        _ring = bigger;
        _head = 0;
    }
}

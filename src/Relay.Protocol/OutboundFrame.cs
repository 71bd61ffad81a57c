using System.Buffers;

namespace Relay.Protocol;

/// <summary>
/// The bytes of one frame on its way to sockets, shared by every send queue it is put on. A forwarded client frame
/// is stamped into an array rented from <see cref="ArrayPool{T}"/> and counted: its creator holds one reference,
/// each queue that takes it one more, and the last <see cref="Release"/> returns the array, and this object, to
/// their pools. So forwarding allocates nothing per frame, however many recipients it has. Frames the relay builds
/// itself (errors, presences, snapshots) <see cref="Wrap"/> a plain array, which nothing ever returns anywhere.
/// </summary>
/// <remarks>
/// Only the holder of the single reference (the creator, before anybody else has the frame) may write into
/// <see cref="WritableSpan"/>. After the last release the object belongs to the pool: holding it any longer
/// would read another frame's bytes, which is why every taker of a reference releases exactly once.
/// </remarks>
public sealed class OutboundFrame
{
    // Frames in flight at once are bounded by the send queues; beyond this many idle objects, the rest are left to
    // the GC. A plain lock: rent and return are a few instructions inside it.
    private const int MaxIdle = 1024;
    private static readonly Lock IdleLock = new();
    private static readonly OutboundFrame[] Idle = new OutboundFrame[MaxIdle];
    private static int _idleCount;

    private readonly bool _pooled;
    private byte[] _buffer;
    private int _length;
    private int _references;

    private OutboundFrame(byte[] buffer, int length, bool pooled)
    {
        _buffer = buffer;
        _length = length;
        _pooled = pooled;
        _references = 1;
    }

    /// <summary>A frame of <paramref name="length"/> bytes in a pooled array, with one reference: the caller's.</summary>
    public static OutboundFrame Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        OutboundFrame? frame = null;
        lock (IdleLock)
        {
            if (_idleCount > 0)
            {
                frame = Idle[--_idleCount];
                Idle[_idleCount] = null!;
            }
        }

        frame ??= new OutboundFrame([], 0, pooled: true);
        frame._buffer = ArrayPool<byte>.Shared.Rent(length);
        frame._length = length;
        frame._references = 1;
        return frame;
    }

    /// <summary>A frame over an array the caller built and no longer changes; references are not counted.</summary>
    public static OutboundFrame Wrap(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new OutboundFrame(bytes, bytes.Length, pooled: false);
    }

    public int Length => _length;

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    /// <summary>The bytes to fill, for the creator while it holds the only reference.</summary>
    public Span<byte> WritableSpan => _buffer.AsSpan(0, _length);

    /// <summary>A copy that outlives the frame (for what leaves the process, e.g. to another gateway).</summary>
    public byte[] ToArray() => _pooled ? Span.ToArray() : _buffer;

    /// <summary>Takes one more reference (a queue that keeps the frame until it is written).</summary>
    public void AddReference()
    {
        if (_pooled) Interlocked.Increment(ref _references);
    }

    /// <summary>Gives one reference back; the last one returns the array and this object to their pools.</summary>
    public void Release()
    {
        if (!_pooled) return;
        var left = Interlocked.Decrement(ref _references);
        if (left > 0) return;
        if (left < 0) throw new InvalidOperationException("An outbound frame was released more often than it was referenced.");
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        ArrayPool<byte>.Shared.Return(buffer);
        lock (IdleLock)
        {
            if (_idleCount < MaxIdle) Idle[_idleCount++] = this;
        }
    }
}

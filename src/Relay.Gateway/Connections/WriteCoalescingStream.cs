using System.Buffers;

namespace Relay.Gateway.Connections;

/// <summary>
/// A WebSocket's transport (the upgraded HTTP stream) that can hold one write back until the next, so that a writer
/// draining a burst of frames hands the server one write, one flush and one <c>send</c> for the burst instead of one per
/// frame. Kestrel flushes every write to its socket (a wake-up of its I/O thread and a system call each): a gateway
/// applying a link batch of nine broadcasts queued nine frames on each socket and paid that nine times.
/// </summary>
/// <remarks>
/// <para>Only the connection's writer asks for a hold (<see cref="HoldNextWrite"/>), and only when it already holds the
/// next frame, so held bytes are always followed by a write that sends them. The hold applies to the first write that
/// comes: if that is a pong or a close frame the WebSocket sends between two of the writer's frames, the pong waits for
/// the writer's next frame (already in hand) and the writer's own frame goes out at once instead.</para>
/// <para>The WebSocket writes one frame at a time (its send lock covers keep-alive pings, pongs and closes too), so
/// writes never overlap and the held buffer needs no lock. The buffer is rented for a burst only and given back when
/// the burst is written: an idle connection holds nothing.</para>
/// </remarks>
internal sealed class WriteCoalescingStream(Stream inner) : Stream
{
    /// <summary>Most bytes held back; a write that would go past this sends what is held instead.</summary>
    public const int MaxHeldBytes = 16 * 1024;

    private byte[]? _held;
    private int _heldLength;
    private int _holdNext;
    private bool _lastWriteHeld;

    /// <summary>Holds the next write back (unless it does not fit); the write after it sends both.</summary>
    public void HoldNextWrite() => Volatile.Write(ref _holdNext, 1);

    /// <summary>Withdraws a hold that no write took (the frame's send failed before writing).</summary>
    public void CancelHold() => Volatile.Write(ref _holdNext, 0);

    /// <summary>Bytes written but not yet passed on (for tests).</summary>
    internal int HeldBytes => _heldLength;

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var hold = Interlocked.Exchange(ref _holdNext, 0) == 1;
        var fits = _heldLength + buffer.Length <= MaxHeldBytes;
        _lastWriteHeld = hold && fits;
        if (_lastWriteHeld)
        {
            Append(buffer.Span);
            return default;
        }
        if (_heldLength == 0) return inner.WriteAsync(buffer, cancellationToken);
        if (fits)
        {
            Append(buffer.Span);
            return WriteHeldAsync(cancellationToken);
        }
        return WriteHeldThenAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>The WebSocket flushes after every frame it writes: a flush after a held write is left to the write that
    /// follows it. Any other write passes on whatever was held, so nothing is held when a flush goes through.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _lastWriteHeld ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // A rented buffer still held here is left to the garbage collector: a write may still be using it (an abort
        // disposes the stream from another thread), and a buffer given back while in use would corrupt its next user.
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        _held ??= ArrayPool<byte>.Shared.Rent(MaxHeldBytes);
        bytes.CopyTo(_held.AsSpan(_heldLength));
        _heldLength += bytes.Length;
    }

    private async ValueTask WriteHeldAsync(CancellationToken cancellationToken)
    {
        var held = _held!;
        var length = _heldLength;
        _held = null;
        _heldLength = 0;
        await inner.WriteAsync(held.AsMemory(0, length), cancellationToken);
        ArrayPool<byte>.Shared.Return(held);
    }

    private async ValueTask WriteHeldThenAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await WriteHeldAsync(cancellationToken);
        await inner.WriteAsync(buffer, cancellationToken);
    }
}

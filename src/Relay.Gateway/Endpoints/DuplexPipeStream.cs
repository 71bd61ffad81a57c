using System.Buffers;
using System.IO.Pipelines;

namespace Relay.Gateway.Endpoints;

/// <summary>A connection's pipes as one stream, for a WebSocket to run on: reads from its input (a zero-byte read waits
/// for data without taking any, so an idle socket holds no buffer), writes and flushes to its output.</summary>
/// <remarks>It reads and writes the pipes itself rather than through <c>PipeReader.AsStream</c> and
/// <c>PipeWriter.AsStream</c>: those are two more objects for every socket's life (80 bytes), and this does what they
/// do (a read copies what the pipe holds, up to the buffer's length, and consumes only that; a cancelled read or flush
/// throws).</remarks>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : Stream
{
    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Take(await pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false), buffer.Span);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Flushed(pipe.Output.WriteAsync(buffer, cancellationToken));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => Flushed(pipe.Output.FlushAsync(cancellationToken)).AsTask();

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Copies what the pipe holds into <paramref name="buffer"/>, as much as fits, and consumes only that: 0 for
    /// a zero-byte buffer (nothing consumed) or once the input has ended.</summary>
    private int Take(ReadResult result, Span<byte> buffer)
    {
        if (result.IsCanceled) throw new OperationCanceledException("the read was cancelled");
        var readable = result.Buffer;
        var taken = (int)Math.Min(readable.Length, buffer.Length);
        var slice = readable.Slice(0, taken);
        slice.CopyTo(buffer);
        pipe.Input.AdvanceTo(slice.End);
        if (readable.IsEmpty && !result.IsCompleted)
        {
            throw new InvalidOperationException("the pipe returned no data though it neither completed nor was cancelled");
        }
        return taken;
    }

    private static ValueTask Flushed(ValueTask<FlushResult> flush)
    {
        if (!flush.IsCompletedSuccessfully) return AwaitFlushed(flush);
        if (flush.Result.IsCanceled) throw new OperationCanceledException("the write was cancelled");
        return default;
    }

    private static async ValueTask AwaitFlushed(ValueTask<FlushResult> flush)
    {
        if ((await flush.ConfigureAwait(false)).IsCanceled) throw new OperationCanceledException("the write was cancelled");
    }
}

using System.Net.WebSockets;
using System.Text;
using Relay.Gateway.Connections;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// A connection's writer sends a burst of queued frames as one write to the transport, and the transport never keeps
/// bytes back without a write that sends them coming next: held bytes go out with the next write, a flush after a held
/// write waits for it, and a hold that does not fit sends what is held first.
/// </summary>
public sealed class WriteCoalescingStreamTests
{
    [Fact]
    public async Task A_held_write_and_its_flush_wait_for_the_next_write_which_carries_both()
    {
        var inner = new RecordingStream();
        var stream = new WriteCoalescingStream(inner);

        stream.HoldNextWrite();
        await stream.WriteAsync("first,"u8.ToArray());
        await stream.FlushAsync();
        Assert.Empty(inner.Writes);
        Assert.Equal(0, inner.Flushes);

        await stream.WriteAsync("second"u8.ToArray());
        await stream.FlushAsync();
        Assert.Equal(["first,second"], inner.Texts);
        Assert.Equal(1, inner.Flushes);
        Assert.Equal(0, stream.HeldBytes);
    }

    [Fact]
    public async Task A_hold_applies_to_the_next_write_only()
    {
        var inner = new RecordingStream();
        var stream = new WriteCoalescingStream(inner);

        stream.HoldNextWrite();
        await stream.WriteAsync("pong,"u8.ToArray()); // a write of the WebSocket's own took the hold
        await stream.WriteAsync("frame"u8.ToArray());
        await stream.WriteAsync("later"u8.ToArray());

        Assert.Equal(["pong,frame", "later"], inner.Texts);
    }

    [Fact]
    public async Task A_withdrawn_hold_holds_nothing()
    {
        var inner = new RecordingStream();
        var stream = new WriteCoalescingStream(inner);

        stream.HoldNextWrite();
        stream.CancelHold();
        await stream.WriteAsync("close"u8.ToArray());

        Assert.Equal(["close"], inner.Texts);
    }

    [Fact]
    public async Task A_write_that_would_overfill_the_hold_sends_what_is_held_first()
    {
        var inner = new RecordingStream();
        var stream = new WriteCoalescingStream(inner);
        var large = new byte[WriteCoalescingStream.MaxHeldBytes];

        stream.HoldNextWrite();
        await stream.WriteAsync("small"u8.ToArray());
        stream.HoldNextWrite();
        await stream.WriteAsync(large);
        await stream.FlushAsync();

        Assert.Equal(2, inner.Writes.Count);
        Assert.Equal("small", Encoding.UTF8.GetString(inner.Writes[0]));
        Assert.Equal(large.Length, inner.Writes[1].Length);
        Assert.Equal(1, inner.Flushes);
    }

    [Fact]
    public async Task The_writer_sends_a_queued_burst_as_one_write_and_every_frame_arrives_in_order()
    {
        var inner = new RecordingStream();
        var transport = new WriteCoalescingStream(inner);
        var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var connection = TestConnections.Create(1, "mesh", socket, transport);
        string[] frames = [.. Enumerable.Range(0, 5).Select(i => $$"""{"type":"direct","n":{{i}}}""")];

        foreach (var frame in frames) Assert.True(connection.Send(Encoding.UTF8.GetBytes(frame), droppable: false));
        connection.CompleteWriter();
        await connection.RunWriterAsync((_, _) => [], metrics: null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        var write = Assert.Single(inner.Writes);
        Assert.Equal(frames, await ReadMessagesAsync(write, frames.Length));
    }

    [Fact]
    public async Task Without_a_coalescing_transport_the_writer_sends_frame_by_frame()
    {
        var inner = new RecordingStream();
        var socket = WebSocket.CreateFromStream(inner, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var connection = TestConnections.Create(1, "mesh", socket);

        for (var i = 0; i < 3; i++) connection.Send(Encoding.UTF8.GetBytes($$"""{"n":{{i}}}"""), droppable: false);
        connection.CompleteWriter();
        await connection.RunWriterAsync((_, _) => [], metrics: null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(3, inner.Writes.Count);
    }

    /// <summary>Reads <paramref name="count"/> text messages as a client would from the bytes a server socket wrote.</summary>
    private static async Task<string[]> ReadMessagesAsync(byte[] written, int count)
    {
        using var client = WebSocket.CreateFromStream(new MemoryStream(written), new WebSocketCreationOptions { KeepAliveInterval = TimeSpan.Zero });
        var messages = new string[count];
        var buffer = new byte[4096];
        for (var i = 0; i < count; i++)
        {
            var result = await client.ReceiveAsync(buffer, CancellationToken.None);
            Assert.True(result.EndOfMessage);
            messages[i] = Encoding.UTF8.GetString(buffer, 0, result.Count);
        }
        return messages;
    }

    /// <summary>A transport that keeps each write apart and counts flushes.</summary>
    private sealed class RecordingStream : Stream
    {
        public List<byte[]> Writes { get; } = [];

        public IEnumerable<string> Texts => Writes.Select(w => Encoding.UTF8.GetString(w));

        public int Flushes { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => Flushes++;

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }

        public override int Read(byte[] buffer, int offset, int count) => 0;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Writes.Add(buffer.AsSpan(offset, count).ToArray());

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(buffer.ToArray());
            return default;
        }
    }
}

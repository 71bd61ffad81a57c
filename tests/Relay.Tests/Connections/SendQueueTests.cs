using Relay.Gateway.Connections;
using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// The send queue's memory: no ring until the first frame, a burst grows it, a drained ring keeps a moderate size (so
/// a busy queue does not reallocate after every burst), and the periodic trim gives it all back once the queue is
/// empty, frames in order throughout.
/// </summary>
public sealed class SendQueueTests
{
    [Fact]
    public void A_drained_ring_grown_by_a_burst_is_trimmed_back_and_keeps_order()
    {
        var queue = new SendQueue(byteLimit: 1 << 20);
        Assert.Equal(0, queue.Slots);
        Enqueue(queue, 0, 40);
        Assert.True(queue.Slots >= 40);

        Assert.Equal(Enumerable.Range(0, 40), Drain(queue));
        var drained = queue.Slots;
        Assert.True(drained > 16, $"a ring of {drained} slots after 40 frames: the drained ring is meant to stay grown until the trim");

        queue.TrimIfIdle();
        Assert.Equal(0, queue.Slots);

        Enqueue(queue, 100, 20);
        Assert.Equal(Enumerable.Range(100, 20), Drain(queue));
        queue.TrimIfIdle();
        Assert.Equal(0, queue.Slots);
    }

    [Fact]
    public void A_queue_holding_frames_is_not_trimmed()
    {
        var queue = new SendQueue(byteLimit: 1 << 20);
        Enqueue(queue, 0, 40);
        var slots = queue.Slots;

        queue.TrimIfIdle();

        Assert.Equal(slots, queue.Slots);
        Assert.Equal(Enumerable.Range(0, 40), Drain(queue));
    }

    [Fact]
    public void A_trimmed_queue_takes_its_next_ring_from_the_pool_without_allocating()
    {
        // What the sweep does to a connection that gets a frame every few seconds: trimmed between any two of them.
        var queue = new SendQueue(byteLimit: 1 << 20);
        var frame = OutboundFrame.Wrap([1, 2, 3]);
        frame.AddReference(); // the test's own, so the frame outlives every dequeue
        for (var i = 0; i < 3; i++) DeliverOneAndTrim(queue, frame); // the pool's first rings, and the JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++) DeliverOneAndTrim(queue, frame);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, queue.Slots);
        Assert.True(allocated < 1_000, $"{allocated} bytes allocated for 1,000 frames each into an empty, trimmed queue");
    }

    private static void DeliverOneAndTrim(SendQueue queue, OutboundFrame frame)
    {
        Assert.True(queue.TryEnqueue(frame, droppable: false, TimeProvider.System, out var wasEmpty));
        Assert.True(wasEmpty);
        Assert.True(queue.TryDequeue(out var taken, out _));
        taken.Release();
        queue.TrimIfIdle();
    }

    private static void Enqueue(SendQueue queue, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            Assert.True(queue.TryEnqueue(OutboundFrame.Wrap(BitConverter.GetBytes(i)), droppable: false, TimeProvider.System, out _));
        }
    }

    private static List<int> Drain(SendQueue queue)
    {
        var seen = new List<int>();
        while (queue.TryDequeue(out var frame, out _))
        {
            seen.Add(BitConverter.ToInt32(frame.Span));
            frame.Release();
        }
        return seen;
    }
}

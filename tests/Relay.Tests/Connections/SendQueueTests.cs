using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Connections;
using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// The send queue's memory: no ring until the first frame, a burst grows it, a drained ring keeps a moderate size (so
/// a busy queue does not reallocate after every burst), and the periodic trim gives it all back once the queue has
/// been empty and quiet for a while, frames in order throughout; a queue that gets a frame every few seconds keeps its
/// ring and allocates nothing per frame.
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

        queue.TrimIfIdle(long.MaxValue);
        Assert.Equal(0, queue.Slots);

        Enqueue(queue, 100, 20);
        Assert.Equal(Enumerable.Range(100, 20), Drain(queue));
        queue.TrimIfIdle(long.MaxValue);
        Assert.Equal(0, queue.Slots);
    }

    [Fact]
    public void A_queue_holding_frames_is_not_trimmed()
    {
        var queue = new SendQueue(byteLimit: 1 << 20);
        Enqueue(queue, 0, 40);
        var slots = queue.Slots;

        queue.TrimIfIdle(long.MaxValue);

        Assert.Equal(slots, queue.Slots);
        Assert.Equal(Enumerable.Range(0, 40), Drain(queue));
    }

    [Fact]
    public void A_queue_that_gets_a_frame_every_few_seconds_keeps_its_ring_and_allocates_nothing_per_frame()
    {
        // What the sweep sees of a peer in a quiet mesh: a frame every 10 s, a trim every second between them.
        var time = new FakeTimeProvider();
        var queue = new SendQueue(byteLimit: 1 << 20);
        var frame = OutboundFrame.Wrap([1, 2, 3]);
        frame.AddReference(); // the test's own, so the frame outlives every dequeue
        var lifetime = (long)(TimeSpan.FromMinutes(1).TotalSeconds * time.TimestampFrequency);
        DeliverOneAndTrimEverySecond(queue, frame, time, lifetime); // the ring, and the JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) DeliverOneAndTrimEverySecond(queue, frame, time, lifetime);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(queue.Slots > 0);
        Assert.True(allocated < 1_000, $"{allocated} bytes allocated for 100 frames 10 s apart");

        // Quiet for the ring's lifetime: given back.
        time.Advance(TimeSpan.FromSeconds(61));
        queue.TrimIfIdle(time.GetTimestamp() - lifetime);
        Assert.Equal(0, queue.Slots);
    }

    private static void DeliverOneAndTrimEverySecond(SendQueue queue, OutboundFrame frame, FakeTimeProvider time, long lifetime)
    {
        Assert.True(queue.TryEnqueue(frame, droppable: false, time, out var wasEmpty));
        Assert.True(wasEmpty);
        Assert.True(queue.TryDequeue(out var taken, out _));
        taken.Release();
        for (var second = 0; second < 10; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            queue.TrimIfIdle(time.GetTimestamp() - lifetime);
        }
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

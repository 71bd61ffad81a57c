using System.Diagnostics;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Limits": a consumer that cannot keep up never slows delivery to anybody else; frames for
/// it are dropped (broadcast-class first, never direct while room remains) and it is told with a <c>dropped</c>
/// error once it drains; a consumer that makes no progress at all for the stale timeout is closed.</summary>
public sealed class SlowConsumerTests : EndToEndTest
{
    private const int SendQueueBytes = 262_144;
    private const int PayloadBytes = 64 * 1024;
    private static readonly string Padding = new('x', PayloadBytes);

    private static Task SendBigAsync(TestPeer sender, int seq) =>
        sender.SendAsync($$$"""{"type":"broadcast","data":{"seq":{{{seq}}},"pad":"{{{Padding}}}"}}""");

    /// <summary>Registers a peer that does not read: its presence reaching <paramref name="observer"/> is the evidence.</summary>
    private async Task<TestPeer> JoinWithoutReadingAsync(TestPeer observer)
    {
        var slow = await ConnectToAsync(MeshUri(), TestPeer.NewId("slow"), startReading: false);
        await slow.PresenceAsync(new { reading = false });
        await observer.WaitForAsync(f => Frame.IsPresenceOf(f, slow.Id));
        return slow;
    }

    [Fact]
    public async Task Slow_consumer_does_not_slow_the_others_its_queue_stays_bounded_and_it_is_told_what_was_dropped()
    {
        await StartRelayAsync($"Relay:SendQueueBytes={SendQueueBytes}", "Relay:MaxFrameBytes=131072",
            "Relay:RateLimitPerSecond=100000", "Relay:RateLimitBurst=100000", "Relay:ByteRateLimitPerSecond=1000000000", "Relay:ByteRateLimitBurst=1000000000");
        var sender = await JoinAsync(TestPeer.NewId("sender"));
        var fast1 = await JoinAsync(TestPeer.NewId("fast1"));
        var fast2 = await JoinAsync(TestPeer.NewId("fast2"));
        var slow = await JoinWithoutReadingAsync(fast1);
        var slowConnection = ConnectionsOfMesh().Single(c => c.PeerId == slow.Id);

        // The sender never gets more than two frames ahead of the fast readers, so they can never overflow their
        // own queues: if the relay let the stalled reader hold anybody up, this loop would stall and time out.
        long maxQueued = 0;
        var sentWhileFull = 0; // frames that could only be queued for the stalled reader by dropping older ones
        var directSent = false;
        const int MaxFrames = 3000;
        var sent = 0;
        var watch = Stopwatch.StartNew();
        while (sent < MaxFrames && sentWhileFull < 40)
        {
            var full = slowConnection.QueuedBytes + PayloadBytes + 512 > SendQueueBytes;
            await SendBigAsync(sender, sent);
            sent++;
            if (sent > 2)
            {
                var behind = sent - 3;
                await fast1.WaitForAsync(f => Frame.Seq(f) == behind, description: $"seq {behind}");
                await fast2.WaitForAsync(f => Frame.Seq(f) == behind, description: $"seq {behind}");
            }
            var queued = slowConnection.QueuedBytes;
            maxQueued = Math.Max(maxQueued, queued);
            if (full && queued + PayloadBytes + 512 > SendQueueBytes) sentWhileFull++;
            if (sentWhileFull == 10 && !directSent)
            {
                directSent = true;
                await sender.SendAsync(new { type = "direct", to = slow.Id, data = new { kept = "direct while the queue is full" } });
            }
        }
        Assert.True(sentWhileFull >= 40, $"the stalled reader's queue never stayed full: {sent} frames, {sentWhileFull} while full, max {maxQueued} bytes");
        Assert.InRange(maxQueued, 1, SendQueueBytes);

        foreach (var fast in new[] { fast1, fast2 })
        {
            await fast.WaitForAsync(f => Frame.Seq(f) == sent - 1, description: "last frame");
            var seqs = fast.All(f => Frame.IsType(f, "broadcast")).Select(f => Frame.Seq(f)!.Value);
            Assert.Equal(Enumerable.Range(0, sent).Select(i => (long)i), seqs);
            Assert.DoesNotContain(fast.Received, Frame.IsRelayError);
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"{sent} frames took {watch.Elapsed}");

        // The stalled reader starts reading: what it missed is reported, the newest frames and the direct arrived.
        slow.StartReading();
        await slow.WaitForAsync(f => Frame.Seq(f) == sent - 1, TimeSpan.FromSeconds(20), "last frame");
        await slow.WaitForAsync(f => Frame.DataStr(f, "kept") is not null && Frame.IsType(f, "direct"), description: "the direct");
        var dropped = await slow.WaitForAsync(f => Frame.IsError(f, "dropped"), description: "dropped error");
        Assert.True(Frame.DataCount(dropped) > 0, dropped.ToString());
        Assert.Equal(slow.Id, Frame.Str(dropped, "to"));

        var got = slow.All(f => Frame.IsType(f, "broadcast")).Select(f => Frame.Seq(f)!.Value).ToList();
        Assert.True(got.SequenceEqual(got.Order()) && got.Distinct().Count() == got.Count, "in order, no duplicates: " + string.Join(",", got));
        var watch2 = Stopwatch.StartNew();
        while (got.Count + slow.All(f => Frame.IsError(f, "dropped")).Sum(f => Frame.DataCount(f) ?? 0) != sent && watch2.Elapsed < TestPeer.DefaultTimeout)
        {
            await Task.Delay(20);
            got = slow.All(f => Frame.IsType(f, "broadcast")).Select(f => Frame.Seq(f)!.Value).ToList();
        }
        Assert.Equal(sent, got.Count + slow.All(f => Frame.IsError(f, "dropped")).Sum(f => Frame.DataCount(f) ?? 0));
        Assert.Equal(WebSocketState.Open, slow.State);
    }

    [Fact]
    public async Task Consumer_making_no_progress_for_the_stale_timeout_is_closed_and_goes_offline_once()
    {
        await StartRelayAsync(FastLiveness.With($"Relay:SendQueueBytes={SendQueueBytes}", "Relay:MaxFrameBytes=131072",
            "Relay:RateLimitPerSecond=100000", "Relay:RateLimitBurst=100000", "Relay:ByteRateLimitPerSecond=1000000000", "Relay:ByteRateLimitBurst=1000000000"));
        var sender = await JoinAsync(TestPeer.NewId("sender"));
        sender.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var fast = await JoinAsync(TestPeer.NewId("fast"));
        fast.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
        var slow = await JoinWithoutReadingAsync(fast);
        slow.StartKeepAlive(FastLiveness.KeepAliveInterval); // it keeps sending, so it is not merely silent

        var watch = Stopwatch.StartNew();
        var sent = 0;
        while (fast.Count(f => Frame.IsOfflineOf(f, slow.Id)) == 0)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the stalled consumer was not closed after {watch.Elapsed} ({sent} frames)");
            await SendBigAsync(sender, sent);
            var seq = sent++;
            await fast.WaitForAsync(f => Frame.Seq(f) == seq, description: $"seq {seq}");
        }

        await QuietPeriodAsync(fast);
        Assert.Equal(1, fast.Count(f => Frame.IsOfflineOf(f, slow.Id)));
        Assert.Equal(1, sender.Count(f => Frame.IsOfflineOf(f, slow.Id)));
        Assert.DoesNotContain(slow.Id, PeersOf(await InvocationsAsync(Mesh)));

        // Its socket was closed (1013) or, since it could not even take a close frame, aborted.
        slow.StartReading();
        var status = await slow.WaitForCloseAsync(TimeSpan.FromSeconds(20));
        Assert.True(status is null or (WebSocketCloseStatus)1013, $"closed with {status}");
    }
}

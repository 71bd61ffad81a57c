using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Connections;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Per-sender order": every receiver gets one sender's frames in the order sent, across all
/// types, none lost or duplicated while both ends stay connected.</summary>
public sealed class OrderingTests : EndToEndTest
{
    [Fact]
    public async Task Every_receiver_gets_each_senders_frames_in_order_without_loss_or_duplicates()
    {
        await StartRelayAsync("Relay:RateLimitPerSecond=1000000", "Relay:RateLimitBurst=1000000", "Relay:ByteRateLimitPerSecond=1000000000", "Relay:ByteRateLimitBurst=1000000000");
        const int Peers = 4;
        const int FramesPerSender = 2500;
        var peers = new List<TestPeer>();
        for (var i = 0; i < Peers; i++) peers.Add(await JoinAsync(TestPeer.NewId($"p{i}")));
        foreach (var peer in peers) await peer.MarkAsync([.. peers.Where(p => p != peer)]); // everyone knows everyone

        // What each receiver must see from each sender: seq numbers in order.
        var expected = peers.ToDictionary(r => r.Id, _ => peers.ToDictionary(s => s.Id, _ => new List<long>()));
        var plans = peers.Select((sender, index) =>
        {
            var random = new Random(index * 7919 + 13);
            var frames = new List<string>();
            for (var seq = 0; seq < FramesPerSender; seq++)
            {
                var roll = random.Next(100);
                if (roll < 35)
                {
                    var target = peers[(index + 1 + random.Next(Peers - 1)) % Peers];
                    frames.Add($$$"""{"type":"direct","to":"{{{target.Id}}}","data":{"seq":{{{seq}}}}}""");
                    expected[target.Id][sender.Id].Add(seq);
                    continue;
                }
                var type = roll switch
                {
                    < 65 => "stream",
                    < 85 => "broadcast",
                    < 97 => "ack",
                    _ => "presence",
                };
                frames.Add(type == "presence"
                    ? $$$"""{"type":"presence","from":"{{{sender.Id}}}","data":{"seq":{{{seq}}}}}"""
                    : $$$"""{"type":"{{{type}}}","data":{"seq":{{{seq}}},"text":"{{{sender.Id}}}-{{{seq}}}"}}""");
                foreach (var receiver in peers.Where(p => p != sender)) expected[receiver.Id][sender.Id].Add(seq);
            }
            frames.Add($$$"""{"type":"{{{TestPeer.MarkerType}}}","data":{"marker":"done-{{{sender.Id}}}"}}""");
            return (sender, frames);
        }).ToList();

        // All senders at once.
        await Task.WhenAll(plans.Select(plan => Task.Run(async () =>
        {
            foreach (var frame in plan.frames) await plan.sender.SendAsync(frame);
        })));

        foreach (var receiver in peers)
        {
            foreach (var sender in peers.Where(p => p != receiver))
            {
                await receiver.WaitForAsync(f => Frame.MarkerOf(f) == $"done-{sender.Id}", TimeSpan.FromSeconds(60));
                var actual = receiver.All(f => Frame.Sender(f) == sender.Id && Frame.Seq(f) is not null).Select(f => Frame.Seq(f)!.Value).ToList();
                var wanted = expected[receiver.Id][sender.Id];
                if (!actual.SequenceEqual(wanted))
                {
                    var firstDifference = actual.Zip(wanted).TakeWhile(p => p.First == p.Second).Count();
                    Assert.Fail($"{receiver.Id} from {sender.Id}: got {actual.Count} frames, expected {wanted.Count}; " +
                        $"first difference at index {firstDifference}: got {string.Join(",", actual.Skip(firstDifference).Take(5))}, " +
                        $"expected {string.Join(",", wanted.Skip(firstDifference).Take(5))}");
                }
            }
            Assert.DoesNotContain(receiver.Received, Frame.IsRelayError);
        }

        // The order held with bursts written as one write each: every socket of the relay coalesces its writes.
        Assert.All(Relay.Services.GetRequiredService<ConnectionRegistry>().All, c => Assert.True(c.CoalescesWrites));
    }
}

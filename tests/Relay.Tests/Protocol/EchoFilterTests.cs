using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class EchoFilterTests
{
    private const long Window = 10_000;

    [Fact]
    public void Unknown_hash_is_not_an_echo()
    {
        var filter = new EchoFilter(8, Window);

        Assert.False(filter.IsEcho(0, 0));
        Assert.False(filter.IsEcho(42, 100));
    }

    [Fact]
    public void Recorded_hash_is_an_echo_within_the_window_only()
    {
        var filter = new EchoFilter(8, Window);

        filter.RecordDelivered(42, 1_000);

        Assert.True(filter.IsEcho(42, 1_000));
        Assert.True(filter.IsEcho(42, 1_000 + Window - 1));
        Assert.False(filter.IsEcho(42, 1_000 + Window));
        Assert.False(filter.IsEcho(43, 1_001));
    }

    [Fact]
    public void Recording_again_refreshes_the_window()
    {
        var filter = new EchoFilter(8, Window);

        filter.RecordDelivered(7, 0);
        filter.RecordDelivered(7, 9_000);

        Assert.True(filter.IsEcho(7, 15_000));
    }

    [Fact]
    public void Timestamp_slightly_ahead_of_the_check_still_counts()
    {
        var filter = new EchoFilter(8, Window);

        filter.RecordDelivered(5, 2_000);

        Assert.True(filter.IsEcho(5, 1_990));
    }

    [Fact]
    public void Full_ring_overwrites_the_oldest()
    {
        var filter = new EchoFilter(4, Window);

        for (ulong hash = 1; hash <= 5; hash++)
        {
            filter.RecordDelivered(hash, 100);
        }

        Assert.False(filter.IsEcho(1, 100));
        for (ulong hash = 2; hash <= 5; hash++)
        {
            Assert.True(filter.IsEcho(hash, 100));
        }

        filter.RecordDelivered(6, 100);
        Assert.False(filter.IsEcho(2, 100));
        Assert.True(filter.IsEcho(6, 100));
    }

    [Fact]
    public void Growing_to_the_capacity_keeps_every_recorded_hash_then_overwrites_the_oldest()
    {
        // 20 is past two doublings of the first allocation (8, 16) and not a power of two.
        var filter = new EchoFilter(20, Window);

        for (ulong hash = 1; hash <= 20; hash++)
        {
            filter.RecordDelivered(hash, 100);
        }
        for (ulong hash = 1; hash <= 20; hash++)
        {
            Assert.True(filter.IsEcho(hash, 100));
        }

        filter.RecordDelivered(21, 100);
        Assert.False(filter.IsEcho(1, 100));
        Assert.True(filter.IsEcho(2, 100));
        Assert.True(filter.IsEcho(21, 100));
    }

    [Fact]
    public void Zero_hash_in_an_unused_slot_does_not_match()
    {
        var filter = new EchoFilter(4, Window);

        filter.RecordDelivered(9, 0);

        Assert.False(filter.IsEcho(0, 0));
    }

    [Fact]
    public void Rejects_nonsense_sizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EchoFilter(0, Window));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EchoFilter(4, -1));
    }

    [Fact]
    public async Task Concurrent_recording_and_checking_is_safe()
    {
        var filter = new EchoFilter(128, long.MaxValue / 4);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                filter.RecordDelivered((ulong)((w * 100_000) + i), i);
            }
        })).ToArray();
        var reader = Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                filter.IsEcho((ulong)i, i);
            }
        });

        await Task.WhenAll([.. writers, reader]);

        filter.RecordDelivered(999_999_999, 0);
        Assert.True(filter.IsEcho(999_999_999, 0));
    }

    [Fact]
    public void Works_with_parser_hashes_end_to_end()
    {
        var filter = new EchoFilter(128, Window);
        var delivered = FrameParser.Parse("""{"type":"ring-update","from":"a","data":{"ring":[1,2]}}"""u8, _ => true);
        var echoed = FrameParser.Parse("""{"type":"ring-update","from":"b","data":{ "ring" : [1.0, 2] },"timestamp":1}"""u8, _ => true);
        var different = FrameParser.Parse("""{"type":"ring-update","from":"b","data":{"ring":[2,1]}}"""u8, _ => true);

        filter.RecordDelivered(delivered.DataHash, 0);

        Assert.True(filter.IsEcho(echoed.DataHash, 5_000));
        Assert.False(filter.IsEcho(different.DataHash, 5_000));
    }
}

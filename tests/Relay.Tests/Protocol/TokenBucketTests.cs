using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class TokenBucketTests
{
    private const long TicksPerSecond = 1_000_000;

    private static int TakeAll(TokenBucket bucket, long now)
    {
        var taken = 0;
        while (bucket.TryTake(now))
        {
            taken++;
        }

        return taken;
    }

    [Fact]
    public void Starts_full_then_refuses()
    {
        var bucket = new TokenBucket(200, 1000, 0, TicksPerSecond);

        Assert.Equal(1000, TakeAll(bucket, 0));
        Assert.False(bucket.TryTake(0));
    }

    [Fact]
    public void Refills_at_the_sustained_rate()
    {
        var bucket = new TokenBucket(200, 1000, 0, TicksPerSecond);
        TakeAll(bucket, 0);

        Assert.Equal(200, TakeAll(bucket, TicksPerSecond));
        Assert.Equal(100, TakeAll(bucket, TicksPerSecond * 3 / 2));
        Assert.False(bucket.TryTake((TicksPerSecond * 3 / 2) + (TicksPerSecond / 400)));
        Assert.True(bucket.TryTake((TicksPerSecond * 3 / 2) + (TicksPerSecond / 200)));
    }

    [Fact]
    public void Sustained_stream_at_the_rate_is_never_refused()
    {
        var bucket = new TokenBucket(100, 5, 0, TicksPerSecond);
        TakeAll(bucket, 0);

        for (var i = 1; i <= 1000; i++)
        {
            Assert.True(bucket.TryTake(i * TicksPerSecond / 100));
        }
    }

    [Fact]
    public void Refill_is_capped_at_burst()
    {
        var bucket = new TokenBucket(200, 1000, 0, TicksPerSecond);
        TakeAll(bucket, 0);

        Assert.Equal(1000, TakeAll(bucket, TicksPerSecond * 3600));
    }

    [Fact]
    public void Time_going_backwards_does_not_refill_or_break()
    {
        var bucket = new TokenBucket(1, 1, 10 * TicksPerSecond, TicksPerSecond);

        Assert.True(bucket.TryTake(10 * TicksPerSecond));
        Assert.False(bucket.TryTake(5 * TicksPerSecond));
        Assert.False(bucket.TryTake(10 * TicksPerSecond));
        Assert.True(bucket.TryTake(11 * TicksPerSecond));
    }

    [Fact]
    public void Error_limit_shape_few_per_second()
    {
        var bucket = new TokenBucket(2, 5, 0, TicksPerSecond);

        Assert.Equal(5, TakeAll(bucket, 0));
        Assert.Equal(2, TakeAll(bucket, TicksPerSecond));
    }

    [Fact]
    public void Rejects_nonsense_parameters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(-1, 1, 0, TicksPerSecond));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(1, 0, 0, TicksPerSecond));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(1, 1, 0, 0));
    }

    [Fact]
    public void Takes_many_tokens_all_or_none()
    {
        // The byte budget: one token per byte of a frame.
        var bucket = new TokenBucket(1000, 4000, 0, TicksPerSecond);

        Assert.True(bucket.TryTake(0, 3000));
        Assert.False(bucket.TryTake(0, 1001)); // 1,000 left: refused whole, nothing taken
        Assert.True(bucket.TryTake(0, 1000));
        Assert.False(bucket.TryTake(TicksPerSecond * 10, 4001)); // more than the burst never passes
        Assert.True(bucket.TryTake(TicksPerSecond * 10, 4000));
    }

    [Fact]
    public void Is_full_once_it_has_refilled_to_its_burst()
    {
        var bucket = new TokenBucket(10, 100, 0, TicksPerSecond);
        Assert.True(bucket.IsFull(0));
        Assert.True(bucket.TryTake(0));
        Assert.False(bucket.IsFull(TicksPerSecond / 20));
        Assert.True(bucket.IsFull(TicksPerSecond / 10));
    }
}

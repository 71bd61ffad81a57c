using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Connections;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// The thread-pool queue's delay as the probe measures it: a probe's wait from its post to its run, the age of one
/// still waiting, and how overdue the next post is. Time is fake, and the test is the thread pool: it runs the queued
/// probe when it chooses.
/// </summary>
public sealed class QueueDelayProbeTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly Queue<IThreadPoolWorkItem> _queued = new();
    private readonly QueueDelayProbe _probe;

    public QueueDelayProbeTests() => _probe = new QueueDelayProbe(_time, _queued.Enqueue);

    [Fact]
    public void Before_the_first_probe_there_is_no_delay()
    {
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.Zero, _probe.Delay);
    }

    [Fact]
    public void A_probe_run_at_once_shows_no_delay()
    {
        for (var i = 0; i < 50; i++)
        {
            _probe.Post();
            _queued.Dequeue().Execute();
            Assert.Equal(TimeSpan.Zero, _probe.Delay);
            _time.Advance(QueueDelayProbe.Period);
        }
    }

    [Fact]
    public void A_probe_that_waited_shows_its_wait_until_the_next_one_ran()
    {
        _probe.Post();
        _time.Advance(TimeSpan.FromMilliseconds(700));
        _queued.Dequeue().Execute();

        Assert.Equal(TimeSpan.FromMilliseconds(700), _probe.Delay);
        _probe.Post();
        Assert.Equal(TimeSpan.FromMilliseconds(700), _probe.Delay);
        _queued.Dequeue().Execute();
        Assert.Equal(TimeSpan.Zero, _probe.Delay);
    }

    [Fact]
    public void A_probe_still_waiting_shows_its_age_and_is_not_posted_twice()
    {
        // A pool that runs nothing: the probe's age is the delay, without waiting for the probe to run.
        _probe.Post();
        _time.Advance(TimeSpan.FromSeconds(3));
        _probe.Post();

        Assert.Single(_queued);
        Assert.Equal(TimeSpan.FromSeconds(3), _probe.Delay);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(5), _probe.Delay);
        _queued.Dequeue().Execute();
        Assert.Equal(TimeSpan.FromSeconds(5), _probe.Delay);
    }

    [Fact]
    public void A_post_overdue_by_more_than_a_period_is_delay_too()
    {
        // The timer that posts fires through the pool as well: no probe waits, but none was posted either.
        _probe.Post();
        _queued.Dequeue().Execute();
        _time.Advance(QueueDelayProbe.Period);
        Assert.Equal(TimeSpan.Zero, _probe.Delay);

        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(TimeSpan.FromSeconds(2), _probe.Delay);
    }
}

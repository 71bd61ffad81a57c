using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Connections;
using Relay.Grains;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// The node's own lag, as its sweep's ticks measure it: nothing while they run on schedule, a late tick's lateness
/// beyond the tolerance, credited to frames read before that tick and not to later ones, at most one stale timeout,
/// in a bounded ring. Time is fake; the default timings (stale 30 s, a tick a second).
/// </summary>
public sealed class SchedulingLagTests
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Stale = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly SchedulingLag _lag;

    public SchedulingLagTests() => _lag = Lag(Stale, Period);

    [Fact]
    public void Ticks_on_schedule_accrue_no_lag()
    {
        var frame = _time.GetTimestamp();
        _lag.Tick();
        for (var i = 0; i < 100; i++)
        {
            // Jitter within the tolerance, as a timer and the sweep's own work give, counts for nothing.
            _time.Advance(Period + (i % 2 == 0 ? SchedulingLag.Tolerance : TimeSpan.Zero));
            Assert.Equal(TimeSpan.Zero, _lag.Tick());
        }

        Assert.Equal(TimeSpan.Zero, _lag.Total);
        Assert.Equal(0, _lag.Count);
        Assert.Equal(TimeSpan.Zero, _lag.CreditSince(frame));
    }

    [Fact]
    public void A_tick_10_s_late_accrues_10_s_less_the_tolerance()
    {
        _lag.Tick();
        _time.Advance(Period + TimeSpan.FromSeconds(10));

        var late = _lag.Tick();

        Assert.Equal(TimeSpan.FromSeconds(10) - SchedulingLag.Tolerance, late);
        Assert.Equal(late, _lag.Total);
    }

    [Fact]
    public void A_frame_before_the_late_tick_is_credited_its_lateness_and_a_frame_after_it_is_not()
    {
        _lag.Tick();
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var before = _time.GetTimestamp();
        _time.Advance(Period + TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(500));
        var late = _lag.Tick();
        var atTheLateTick = _time.GetTimestamp();
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var after = _time.GetTimestamp();
        _time.Advance(TimeSpan.FromMilliseconds(500));
        _lag.Tick();

        Assert.Equal(late, _lag.CreditSince(before));
        Assert.Equal(late, _lag.CreditSince(atTheLateTick));
        Assert.Equal(TimeSpan.Zero, _lag.CreditSince(after));
    }

    [Fact]
    public void The_lateness_counts_at_the_late_tick_itself_and_still_at_the_next()
    {
        // The late tick is the first chance to look after a stall, and the reads the stall held up have not run yet:
        // a frame read before the stall must already have the credit there, and keep it at the tick after.
        _lag.Tick();
        var frame = _time.GetTimestamp();
        _time.Advance(Period + TimeSpan.FromSeconds(10));
        var late = _lag.Tick();
        Assert.Equal(late, _lag.CreditSince(frame));

        _time.Advance(Period);
        Assert.Equal(TimeSpan.Zero, _lag.Tick());
        Assert.Equal(late, _lag.CreditSince(frame));
    }

    [Fact]
    public void A_node_that_stays_behind_by_the_same_delay_counts_it_once()
    {
        // Every tick from the second on runs 2 s behind its slot: one tick 2 s late, then a tick a period.
        var frame = _time.GetTimestamp();
        _lag.Tick();
        _time.Advance(Period + TimeSpan.FromSeconds(2));
        _lag.Tick();
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(Period);
            _lag.Tick();
        }

        Assert.Equal(TimeSpan.FromSeconds(2) - SchedulingLag.Tolerance, _lag.CreditSince(frame));
    }

    [Fact]
    public void The_credit_is_at_most_one_stale_timeout()
    {
        var frame = _time.GetTimestamp();
        _lag.Tick();
        _time.Advance(Period + TimeSpan.FromSeconds(100));
        Assert.Equal(TimeSpan.FromSeconds(100) - SchedulingLag.Tolerance, _lag.Tick());

        Assert.Equal(Stale, _lag.CreditSince(frame));
        Assert.Equal(TimeSpan.FromSeconds(100) - SchedulingLag.Tolerance, _lag.Total);
    }

    [Fact]
    public void The_ring_holds_twice_the_stale_timeout_of_late_ticks_and_forgets_the_oldest()
    {
        Assert.Equal(60, _lag.Capacity);
        var lateBy = TimeSpan.FromMilliseconds(100); // beyond the tolerance, a tick
        var frame = _time.GetTimestamp();
        _lag.Tick();
        for (var i = 0; i < 200; i++)
        {
            _time.Advance(Period + SchedulingLag.Tolerance + lateBy);
            Assert.Equal(lateBy, _lag.Tick());
        }

        Assert.Equal(_lag.Capacity, _lag.Count);
        Assert.Equal(lateBy * 200, _lag.Total);
        // The frame is older than the ring: it gets what the ring still knows, the lag of its 60 late ticks.
        Assert.Equal(lateBy * _lag.Capacity, _lag.CreditSince(frame));
    }

    [Fact]
    public void The_ring_is_bounded_whatever_the_timings()
    {
        var lag = Lag(TimeSpan.FromHours(1), TimeSpan.FromMilliseconds(50));
        Assert.Equal(SchedulingLag.MaxEntries, lag.Capacity);
        lag.Tick();
        for (var i = 0; i < SchedulingLag.MaxEntries * 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            lag.Tick();
        }
        Assert.Equal(SchedulingLag.MaxEntries, lag.Count);
    }

    private SchedulingLag Lag(TimeSpan stale, TimeSpan period) =>
        new(Options.Create(new LivenessOptions { StaleTimeout = stale, ReapCheckInterval = period }), _time);
}

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// When a node refuses upgrades because it runs behind: from a queue delay above the threshold (1 s, the default)
/// until the delay has stayed at or below half of it for <see cref="LagShedding.CalmFor"/>; never when off. Time is
/// fake and the test is the thread pool (it runs the probe when it chooses); each sample is one probe period.
/// </summary>
public sealed class LagSheddingTests
{
    private static readonly TimeSpan Threshold = TimeSpan.FromSeconds(1);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly Queue<IThreadPoolWorkItem> _queued = new();
    private readonly QueueDelayProbe _probe;

    public LagSheddingTests() => _probe = new QueueDelayProbe(_time, _queued.Enqueue);

    [Fact]
    public void A_node_on_schedule_admits_everything()
    {
        var shedding = Shedding(Threshold);
        for (var i = 0; i < 100; i++)
        {
            Period(shedding, wait: TimeSpan.FromMilliseconds(i % 10 == 0 ? 900 : 1)); // up to the threshold itself
            Assert.False(shedding.Refuses());
        }
        Assert.False(shedding.IsShedding);
    }

    [Fact]
    public void A_probe_that_waited_over_the_threshold_starts_the_shedding_at_the_next_sample()
    {
        var shedding = Shedding(Threshold);
        Period(shedding, wait: TimeSpan.FromMilliseconds(1100));

        shedding.Sample();

        Assert.True(shedding.IsShedding);
        Assert.True(shedding.Refuses());
    }

    [Fact]
    public void An_upgrade_read_while_the_probe_still_waits_is_refused_before_the_probe_has_run()
    {
        // Every thread busy: neither the probe nor the sampling tick has run, but the upgrade that does get a thread
        // sees how long the probe has waited.
        var shedding = Shedding(Threshold);
        shedding.Sample();
        _time.Advance(TimeSpan.FromMilliseconds(1500));

        Assert.True(shedding.Refuses());
        Assert.True(shedding.IsShedding);
    }

    [Fact]
    public void Shedding_ends_once_the_delay_stayed_at_or_below_half_the_threshold_for_the_calm_period()
    {
        var shedding = Shedding(Threshold);
        Period(shedding, wait: TimeSpan.FromSeconds(3));
        shedding.Sample();
        Assert.True(shedding.IsShedding);
        _time.Advance(Threshold / 2);
        _queued.Dequeue().Execute(); // waited half the threshold: calm

        var calmFrom = _time.GetTimestamp();
        shedding.Sample();
        while (shedding.IsShedding)
        {
            Assert.True(_time.GetElapsedTime(calmFrom) < 5 * LagShedding.CalmFor, "still shedding long after the delay dropped");
            Assert.True(shedding.Refuses());
            _time.Advance(QueueDelayProbe.Period);
            _queued.Dequeue().Execute();
            shedding.Sample();
        }

        Assert.Equal(LagShedding.CalmFor, _time.GetElapsedTime(calmFrom));
        Assert.False(shedding.Refuses());
    }

    [Fact]
    public void A_delay_between_half_the_threshold_and_the_threshold_keeps_it_shedding_and_starts_the_calm_period_again()
    {
        var shedding = Shedding(Threshold);
        Period(shedding, wait: TimeSpan.FromSeconds(2));
        shedding.Sample();

        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 8; i++) Period(shedding, wait: TimeSpan.FromMilliseconds(10)); // calm, not long enough
            Period(shedding, wait: TimeSpan.FromMilliseconds(600)); // under the threshold, above its half
            Assert.True(shedding.IsShedding);
            Assert.True(shedding.Refuses());
        }
    }

    [Fact]
    public void Upgrades_admitted_between_samples_do_not_end_it_before_the_calm_period()
    {
        var shedding = Shedding(Threshold);
        Period(shedding, wait: TimeSpan.FromSeconds(2));
        shedding.Sample();
        Period(shedding, wait: TimeSpan.Zero);

        // Many upgrades within the same instant: each one evaluates, none makes the calm period pass.
        for (var i = 0; i < 1000; i++) Assert.True(shedding.Refuses());
    }

    [Fact]
    public async Task Off_it_never_refuses_and_runs_no_probe()
    {
        var shedding = Shedding(TimeSpan.Zero);
        await shedding.StartAsync(CancellationToken.None);
        await shedding.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(10)); // returned at once: no sampling loop
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.False(shedding.Enabled);
        Assert.Empty(_queued);
        Assert.False(shedding.Refuses());
        Assert.False(shedding.IsShedding);
        await shedding.StopAsync(CancellationToken.None);
    }

    /// <summary>One probe period: a sample (which posts a probe), the probe run after <paramref name="wait"/>, and the
    /// rest of the period.</summary>
    private void Period(LagShedding shedding, TimeSpan wait)
    {
        shedding.Sample();
        _time.Advance(wait);
        _queued.Dequeue().Execute();
        if (wait < QueueDelayProbe.Period) _time.Advance(QueueDelayProbe.Period - wait);
    }

    private LagShedding Shedding(TimeSpan threshold) =>
        new(Options.Create(new RelayOptions { ShedWhenLaggingAbove = threshold }), _probe, _time, NullLogger<LagShedding>.Instance);
}

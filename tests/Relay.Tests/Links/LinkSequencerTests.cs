using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Cluster;
using Relay.Grains.Contracts;
using Xunit;

namespace Relay.Tests.Links;

/// <summary>
/// The receiving end of the links between gateways: batches that overtook each other on the way are applied in the
/// order their source numbered them, copies are dropped, and what will never come is reported lost, once.
/// </summary>
public sealed class LinkSequencerTests
{
    private static readonly TimeSpan GapTimeout = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _log = [];
    private readonly LinkSequencer _sequencer;

    public LinkSequencerTests() =>
        _sequencer = new LinkSequencer(b => _log.Add($"{b.SourceGateway}:{b.Sequence}"), (source, n) => _log.Add($"{source}:lost {n}"), _time, GapTimeout);

    [Fact]
    public void Batches_in_order_are_applied_at_once()
    {
        Accept("a", 1, 2, 3);
        Assert.Equal(["a:1", "a:2", "a:3"], _log);
    }

    [Fact]
    public void A_batch_that_overtook_another_waits_for_it()
    {
        Accept("a", 2, 4);
        Assert.Empty(_log);
        Accept("a", 1);
        Assert.Equal(["a:1", "a:2"], _log);
        Accept("a", 3);
        Assert.Equal(["a:1", "a:2", "a:3", "a:4"], _log);
    }

    [Fact]
    public void Sources_are_sequenced_apart()
    {
        Accept("a", 2);
        Accept("b", 1);
        Accept("a", 1);
        Assert.Equal(["b:1", "a:1", "a:2"], _log);
    }

    [Fact]
    public void Copies_are_dropped_whether_applied_or_waiting()
    {
        Accept("a", 1, 3);
        Assert.False(_sequencer.Accept(Batch("a", 1)));
        Assert.False(_sequencer.Accept(Batch("a", 3)));
        Accept("a", 2);
        Assert.False(_sequencer.Accept(Batch("a", 2)));
        Assert.Equal(["a:1", "a:2", "a:3"], _log);
    }

    [Fact]
    public void A_batch_a_full_window_ahead_proves_the_missing_one_will_never_come()
    {
        // The sender sends batch n only once n - MaxInFlight is done: 1 + MaxInFlight arriving means 1 was given up.
        var ahead = 1 + LinkBatch.MaxInFlight;
        Accept("a", 2, 3);
        Accept("a", ahead);
        Assert.Equal(["a:lost 1", "a:2", "a:3"], _log[..3]);
        Accept("a", Enumerable.Range(4, ahead - 4).Select(i => (long)i).ToArray());
        Assert.Equal($"a:{ahead}", _log[^1]);
        Assert.Equal(ahead, _log.Count); // lost 1, then 2 to ahead

        // The lost batch turning up after all is a straggler: dropped, not applied out of order.
        Assert.False(_sequencer.Accept(Batch("a", 1)));
    }

    [Fact]
    public void A_first_batch_far_ahead_reports_every_batch_before_it_lost()
    {
        Accept("a", 10);
        Assert.Equal([$"a:lost {10 - LinkBatch.MaxInFlight}"], _log);
        _time.Advance(GapTimeout);
        _sequencer.ExpireGaps();
        Assert.Equal([$"a:lost {10 - LinkBatch.MaxInFlight}", $"a:lost {LinkBatch.MaxInFlight - 1}", "a:10"], _log);
    }

    [Fact]
    public void A_gap_is_given_up_after_the_timeout_and_not_before()
    {
        Accept("a", 1, 3);
        _time.Advance(GapTimeout - TimeSpan.FromMilliseconds(1));
        _sequencer.ExpireGaps();
        Assert.Equal(["a:1"], _log);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        _sequencer.ExpireGaps();
        Assert.Equal(["a:1", "a:lost 1", "a:3"], _log);
        Accept("a", 4);
        Assert.Equal("a:4", _log[^1]);
    }

    [Fact]
    public void The_gap_clock_starts_again_for_a_new_gap()
    {
        Accept("a", 2, 4);
        _time.Advance(TimeSpan.FromSeconds(4));
        Accept("a", 1);                    // fills the first gap; 4 now waits for 3, from now
        _time.Advance(TimeSpan.FromSeconds(4));
        _sequencer.ExpireGaps();
        Assert.Equal(["a:1", "a:2"], _log);
        _time.Advance(TimeSpan.FromSeconds(1));
        _sequencer.ExpireGaps();
        Assert.Equal(["a:1", "a:2", "a:lost 1", "a:4"], _log);
    }

    private void Accept(string source, params long[] sequences)
    {
        foreach (var sequence in sequences) Assert.True(_sequencer.Accept(Batch(source, sequence)));
    }

    private static LinkBatch Batch(string source, long sequence) => new(source, sequence, []);
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Cluster;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Xunit;

namespace Relay.Tests.Links;

/// <summary>
/// The receiving end's acknowledgements: one goes out on its own only when the source needs it (enough batches wait,
/// a copy arrived, a gap was given up), else after the flush interval, and never twice for the same batches unless
/// asked. No link to the source has anything queued here, so nothing can ride a batch: every acknowledgement is a
/// message of its own, which the source's fake inbox records. Time is fake.
/// </summary>
public sealed class LinkAcknowledgerTests : IDisposable
{
    private const string Source = "gw-a";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingInbox _inbox = new();
    private readonly RunningLifetime _lifetime = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly GatewayLinks _links;
    private readonly LinkAcknowledger _acknowledger;

    public LinkAcknowledgerTests()
    {
        var metrics = new RelayMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var losses = new LinkLossReporter(new ConnectionRegistry(), new ErrorReplies(metrics, _time), metrics, NullLogger<LinkLossReporter>.Instance);
        var cluster = FakeLinkCluster.With(_inbox);
        _links = new GatewayLinks(cluster, new GatewayIdentity(), losses, metrics, _time, _lifetime, NullLogger<GatewayLinks>.Instance);
        _acknowledger = new LinkAcknowledger(cluster, new GatewayIdentity(), _links, _time, NullLogger<LinkAcknowledger>.Instance);
    }

    [Fact]
    public async Task Fewer_batches_than_AcknowledgeEvery_wait_for_the_flush_and_then_go_as_one()
    {
        for (var sequence = 1; sequence < LinkAcknowledger.AcknowledgeEvery; sequence++) _acknowledger.Acknowledge(Source, sequence);

        await AssertNothingSentAsync();
        _time.Advance(LinkAcknowledger.FlushInterval);
        Assert.Equal(LinkAcknowledger.AcknowledgeEvery - 1, await NextAsync());

        // Sent once: the next flush has nothing to send.
        _time.Advance(LinkAcknowledger.FlushInterval);
        await AssertNothingSentAsync();
    }

    [Fact]
    public async Task AcknowledgeEvery_batches_waiting_go_out_at_once()
    {
        for (var sequence = 1; sequence <= LinkAcknowledger.AcknowledgeEvery; sequence++) _acknowledger.Acknowledge(Source, sequence);

        Assert.Equal(LinkAcknowledger.AcknowledgeEvery, await NextAsync());
        _time.Advance(LinkAcknowledger.FlushInterval);
        await AssertNothingSentAsync();
    }

    [Fact]
    public async Task An_urgent_acknowledgement_goes_out_at_once_even_when_that_value_went_out_already()
    {
        _acknowledger.Acknowledge(Source, 1, urgent: true);
        Assert.Equal(1, await NextAsync());

        // A copy of batch 1: the source did not get the acknowledgement.
        _acknowledger.Acknowledge(Source, 1, urgent: true);
        Assert.Equal(1, await NextAsync());

        // Not urgent and nothing new: nothing to send, now or at the flush.
        _acknowledger.Acknowledge(Source, 1);
        _time.Advance(LinkAcknowledger.FlushInterval);
        await AssertNothingSentAsync();
    }

    public void Dispose()
    {
        _lifetime.Stop();
        _acknowledger.Dispose();
        _links.Dispose();
        _services.Dispose();
        _lifetime.Dispose();
    }

    private async Task<long> NextAsync() => await _inbox.Acknowledged.Reader.ReadAsync().AsTask().WaitAsync(Wait);

    // A bounded check that nothing goes out: a loaded machine can only make it pass wrongly, never fail wrongly.
    private async Task AssertNothingSentAsync() =>
        Assert.False(await _inbox.Acknowledged.Reader.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromMilliseconds(300)).ContinueWith(t => t.IsCompletedSuccessfully));
}

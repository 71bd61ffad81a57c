using System.Diagnostics.Metrics;
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
/// The sending end of the links between gateways: batches go out one-way, at most <see cref="LinkBatch.MaxInFlight"/>
/// unacknowledged; a batch without an acknowledgement is sent again, then given up and reported, and an
/// acknowledgement ends both. The destination's inbox is a fake that records what arrives; time is fake.
/// </summary>
public sealed class GatewayLinksTests : IDisposable
{
    private const string Destination = "gw-b";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingInbox _inbox = new();
    private readonly RunningLifetime _lifetime = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly GatewayLinks _links;
    private long _undelivered;

    public GatewayLinksTests()
    {
        var meters = _services.GetRequiredService<IMeterFactory>();
        var metrics = new RelayMetrics(meters);
        var losses = new LinkLossReporter(new ConnectionRegistry(), new ErrorReplies(metrics, _time), metrics, NullLogger<LinkLossReporter>.Instance);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "relay.cluster.items.undelivered") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _undelivered, value));
        _listener.Start();
        _links = new GatewayLinks(FakeLinkCluster.With(_inbox), new GatewayIdentity(), losses, metrics, _time, _lifetime, NullLogger<GatewayLinks>.Instance);
    }

    [Fact]
    public async Task A_full_window_holds_the_next_batch_until_an_acknowledgement_and_it_then_carries_all_that_waited()
    {
        for (var sequence = 1; sequence <= LinkBatch.MaxInFlight; sequence++)
        {
            _links.Send(Destination, Item(sequence));
            Assert.Equal(sequence, (await NextAsync()).Sequence);
        }

        // The window is full: these two wait together for room, rather than going out as they come. (A bounded
        // check that nothing goes out: a loaded machine can only make it pass wrongly, never fail wrongly.)
        _links.Send(Destination, Item(100));
        Assert.False(await _inbox.Batches.Reader.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromMilliseconds(300)).ContinueWith(t => t.IsCompletedSuccessfully));
        _links.Send(Destination, Item(101));
        _links.Acknowledge(Destination, 1);

        var next = await NextAsync();
        Assert.Equal(LinkBatch.MaxInFlight + 1, next.Sequence);
        Assert.Equal([100L, 101L], next.Items.Select(i => i.ConnectionId));
    }

    [Fact]
    public async Task An_unacknowledged_batch_is_sent_again_twice_then_given_up_and_reported()
    {
        _links.Send(Destination, Item(1));
        Assert.Equal(1, (await NextAsync()).Sequence);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, TakeNow()?.Sequence);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, TakeNow()?.Sequence);
        _time.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(250));
        Assert.Null(TakeNow());
        Assert.Equal(0, Interlocked.Read(ref _undelivered));

        _time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Null(TakeNow());
        Assert.Equal(1, Interlocked.Read(ref _undelivered));

        // Until the destination acknowledges again, a batch gets one attempt.
        _links.Send(Destination, Item(2));
        Assert.Equal(2, (await NextAsync()).Sequence);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(TakeNow());
        Assert.Equal(2, Interlocked.Read(ref _undelivered));
    }

    [Fact]
    public async Task An_acknowledged_batch_is_neither_sent_again_nor_reported()
    {
        _links.Send(Destination, Item(1));
        _links.Send(Destination, Item(2));
        var sent = 0;
        long last = 0;
        while (last < 2 && sent < 2)
        {
            var batch = await NextAsync();
            last = batch.Items[^1].ConnectionId;
            sent++;
        }
        _links.Acknowledge(Destination, sent);

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(TakeNow());
        Assert.Equal(0, Interlocked.Read(ref _undelivered));
    }

    public void Dispose()
    {
        _lifetime.Stop();
        _links.Dispose();
        _listener.Dispose();
        _services.Dispose();
        _lifetime.Dispose();
    }

    private static LinkItem Item(long connection) => new(LinkItemKind.Broadcast, "m", "p", 1, connection, [1, 2, 3]);

    private async Task<LinkBatch> NextAsync() => await _inbox.Batches.Reader.ReadAsync().AsTask().WaitAsync(Wait);

    private LinkBatch? TakeNow() => _inbox.Batches.Reader.TryRead(out var batch) ? batch : null;
}

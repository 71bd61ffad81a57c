using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// This gateway's inbox: other gateways' links send it their batches (frames and membership changes), one-way, and it
/// applies them to the local meshes in the order each source numbered them (<see cref="LinkSequencer"/>) and
/// acknowledges them to their source (<see cref="LinkAcknowledger"/>). The acknowledgements of this gateway's own
/// links come here too, and go to <see cref="GatewayLinks"/>.
/// Registered with the gateway's grain at start, before any other gateway can learn this gateway's id (so the
/// first batch from any source is its batch 1), and unregistered at stop. This object is a singleton, so
/// the strong reference that Orleans' observers need (it holds them weakly) lives as long as the gateway.
/// </summary>
internal sealed partial class GatewayInbox(
    IClusterClient cluster,
    GatewayIdentity gateway,
    MeshRegistry meshes,
    RemoteMeshUpdates remote,
    LinkLossReporter losses,
    GatewayLinks links,
    LinkAcknowledger acknowledger,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<GatewayInbox> logger) : IGatewayInbox, IHostedService
{
    private static readonly TimeSpan UnregisterTimeout = TimeSpan.FromSeconds(2);

    // How long batches that arrived early wait for a missing one before it is reported lost. A sender sends a batch
    // again when it is not acknowledged within 1 s, and again after 1 s more (a silo that died on the way): long
    // enough for those to arrive, and longer than the sender's 4 s before it gives the batch up.
    private static readonly TimeSpan GapTimeout = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan GapCheckInterval = TimeSpan.FromSeconds(1);

    // Batches may arrive at the same time, from several sources or from one link's calls in flight together.
    private readonly Lock _lock = new();
    private LinkSequencer? _sequencer;
    private ITimer? _gapCheck;
    private IGatewayInbox? _reference;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _sequencer = new LinkSequencer(Apply, losses.Lost, time, GapTimeout);
        _gapCheck = time.CreateTimer(static state => ((GatewayInbox)state!).ExpireGaps(), this, GapCheckInterval, GapCheckInterval);
        _reference = cluster.CreateObjectReference<IGatewayInbox>(this);
        await cluster.GetGrain<IGatewayGrain>(gateway.Id).Register(_reference).WaitAsync(cancellationToken);
        Log.Registered(logger, gateway.Id);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_reference is null) return;
        try
        {
            await cluster.GetGrain<IGatewayGrain>(gateway.Id).Unregister().WaitAsync(UnregisterTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The cluster may already be gone; the entry then stays behind, and other gateways' calls to this
            // inbox fail, which is what they would do anyway once this process has exited.
            Log.UnregisterFailed(logger, ex, gateway.Id);
        }
        cluster.DeleteObjectReference<IGatewayInbox>(_reference);
        if (_gapCheck is not null) await _gapCheck.DisposeAsync();
    }

    public Task Deliver(LinkBatch batch)
    {
        Log.BatchArrived(logger, batch.Sequence, batch.Items.Length, batch.SourceGateway);
        if (batch.Acknowledged > 0) links.Acknowledge(batch.SourceGateway, batch.Acknowledged);
        long completed;
        bool copy;
        lock (_lock)
        {
            // A copy: a batch sent again after a timeout although the first attempt had arrived, or a straggler
            // already reported lost. Applying it again would deliver twice, or out of order. Its acknowledgement
            // goes out again at once all the same: the copy says the sender did not get the last one.
            copy = !_sequencer!.Accept(batch);
            if (copy) metrics.LinkDuplicate();
            completed = _sequencer.CompletedThrough(batch.SourceGateway);
        }
        acknowledger.Acknowledge(batch.SourceGateway, completed, urgent: copy);
        return Task.CompletedTask;
    }

    public Task Acknowledge(string destinationGateway, long upToSequence)
    {
        links.Acknowledge(destinationGateway, upToSequence);
        return Task.CompletedTask;
    }

    private void ExpireGaps()
    {
        List<(string Source, long Completed)>? moved = null;
        lock (_lock)
        {
            if (_sequencer!.ExpireGaps() is { } expired)
            {
                foreach (var source in expired) (moved ??= []).Add((source, _sequencer.CompletedThrough(source)));
            }
        }
        if (moved is null) return;
        // The batches that waited behind a gap are applied now: their sender stops sending them again.
        foreach (var (source, completed) in moved) acknowledger.Acknowledge(source, completed, urgent: true);
    }

    private void Apply(LinkBatch batch)
    {
        using var activity = RelayActivities.StartLinkReceive(batch.TraceParent, batch.SourceGateway, batch.Sequence, batch.Items.Length);
        metrics.LinkReceived(batch.Items.Length);
        var receivedAt = time.GetTimestamp();
        foreach (var item in batch.Items)
        {
            if (meshes.Find(item.Mesh) is { } mesh) remote.Apply(mesh, batch.SourceGateway, item, receivedAt);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1904, Level = LogLevel.Trace, Message = "Batch {Sequence} ({Items} item(s)) arrived from gateway {Source}")]
        public static partial void BatchArrived(ILogger logger, long sequence, int items, string source);

        [LoggerMessage(EventId = 1905, Level = LogLevel.Information, Message = "Gateway {GatewayId} registered its inbox")]
        public static partial void Registered(ILogger logger, string gatewayId);

        [LoggerMessage(EventId = 1906, Level = LogLevel.Warning, Message = "Gateway {GatewayId} could not unregister its inbox")]
        public static partial void UnregisterFailed(ILogger logger, Exception exception, string gatewayId);
    }
}

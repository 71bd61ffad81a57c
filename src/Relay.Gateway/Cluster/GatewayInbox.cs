using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// This gateway's inbox: other gateways' links call it with their batches (frames and membership changes, in the
/// order each sent them), and it applies them to the local meshes. Registered with the gateway's grain at start,
/// before any other gateway can learn this gateway's id, and unregistered at stop. This object is a singleton, so
/// the strong reference that Orleans' observers need (it holds them weakly) lives as long as the gateway.
/// </summary>
internal sealed partial class GatewayInbox(
    IClusterClient cluster,
    GatewayIdentity gateway,
    MeshRegistry meshes,
    ConnectionRegistry connections,
    LinkLossReporter losses,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<GatewayInbox> logger) : IGatewayInbox, IHostedService
{
    private static readonly TimeSpan UnregisterTimeout = TimeSpan.FromSeconds(2);

    // Batches from different gateways may arrive at the same time; each source's arrive one at a time (its link
    // awaits each call), and the lock keeps the sequence bookkeeping consistent across sources.
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private IGatewayInbox? _reference;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
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
    }

    public Task Deliver(LinkBatch batch)
    {
        Log.BatchArrived(logger, batch.Sequence, batch.Items.Length, batch.SourceGateway);
        lock (_lock)
        {
            // A link numbers its batches from 1 for the life of its gateway process (gateway ids are never reused),
            // and this inbox was registered before any other gateway could know this gateway's id: so the first
            // batch from a source is 1, and a first batch numbered higher means the ones before it were lost.
            var last = _lastSequence.GetValueOrDefault(batch.SourceGateway);
            if (batch.Sequence <= last)
            {
                // A batch sent again after a timeout although the first attempt had arrived, or a straggler already
                // counted as lost: applying it again would deliver twice, or out of order.
                metrics.LinkDuplicate();
                return Task.CompletedTask;
            }
            if (batch.Sequence > last + 1) losses.Lost(batch.SourceGateway, batch.Sequence - last - 1);
            _lastSequence[batch.SourceGateway] = batch.Sequence;
            metrics.LinkReceived(batch.Items.Length);
            var receivedAt = time.GetTimestamp();
            foreach (var item in batch.Items)
            {
                meshes.Find(item.Mesh)?.Apply(batch.SourceGateway, item, connections, receivedAt);
            }
        }
        return Task.CompletedTask;
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

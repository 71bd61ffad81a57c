using System.Globalization;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Subscribes this gateway to its own stream and applies what arrives: other gateways' link batches (frames and
/// membership changes, in the order they sent them) and grains' decisions. Also tells local senders about
/// frames their links could not deliver, and local receivers about batches lost on the way to them.
/// </summary>
internal sealed partial class GatewayEventListener(
    IClusterClient cluster,
    GatewayIdentity gateway,
    GatewayLinks links,
    MeshRegistry meshes,
    ConnectionRegistry connections,
    PeerMembership membership,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<GatewayEventListener> logger) : IHostedService
{
    private readonly Dictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private StreamSubscriptionHandle<GatewayEvent>? _subscription;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        links.Undelivered = ReportUndelivered;
        var stream = cluster.GetStreamProvider(GatewayStreams.Provider).GetStream<GatewayEvent>(GatewayStreams.For(gateway.Id));
        _subscription = await stream.SubscribeAsync(OnEventAsync);
        Log.Listening(logger, gateway.Id);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.UnsubscribeAsync();
    }

    private async Task OnEventAsync(GatewayEvent item, StreamSequenceToken? token)
    {
        try
        {
            switch (item)
            {
                case LinkBatch batch:
                    Apply(batch);
                    break;
                case PeerReaped reaped:
                    await membership.ApplyReapedAsync(reaped);
                    // Counted once applied: whatever the reap announced here has been queued for the clients by now.
                    metrics.LeasesExpired(reaped.Connections.Length);
                    break;
                case GatewayJoinedMesh joined:
                    meshes.Find(joined.Mesh)?.MergeGateways([joined.GatewayId]);
                    break;
                case GatewayLeftMesh left:
                    meshes.Find(left.Mesh)?.ForgetGateway(left.GatewayId);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.EventFailed(logger, ex, item.GetType().Name);
        }
    }

    private void Apply(LinkBatch batch)
    {
        Log.BatchArrived(logger, batch.Sequence, batch.Items.Length, batch.SourceGateway);
        // Stream delivery to one subscriber is sequential, so this needs no lock. A link numbers its batches from 1
        // for the life of its gateway process (gateway ids are never reused), and this gateway subscribed before any
        // other gateway could know its id: so the first batch from a source is 1, and a first batch numbered higher
        // means the ones before it were lost.
        var last = _lastSequence.GetValueOrDefault(batch.SourceGateway);
        if (batch.Sequence <= last)
        {
            // A publish retried after a timeout that had in fact enqueued it, or a straggler already counted as
            // lost: applying it again would deliver twice, or out of order.
            metrics.LinkDuplicate();
            return;
        }
        if (batch.Sequence > last + 1) ReportLost(batch.SourceGateway, batch.Sequence - last - 1);
        _lastSequence[batch.SourceGateway] = batch.Sequence;
        metrics.LinkReceived(batch.Items.Length);
        var receivedAt = time.GetTimestamp();
        foreach (var linkItem in batch.Items)
        {
            meshes.Find(linkItem.Mesh)?.Apply(batch.SourceGateway, linkItem, connections, receivedAt);
        }
    }

    /// <summary>Frames a local connection sent that a link could not deliver: the sender is told how many.</summary>
    private void ReportUndelivered(IReadOnlyList<LinkItem> items)
    {
        foreach (var group in items.GroupBy(i => i.ConnectionId))
        {
            if (!connections.TryGet(group.Key, out var sender) || sender!.PeerId is null) continue;
            sender.Send(CountedError(ErrorCodes.Undelivered, group.Count(), sender.PeerId,
                "frame(s) you sent could not be delivered to another node of the relay"), droppable: false);
        }
    }

    /// <summary>Batches from <paramref name="source"/> never arrived: every local member of a mesh that gateway
    /// serves may have missed frames, and is told so.</summary>
    private void ReportLost(string source, long batches)
    {
        Log.BatchesLost(logger, batches, source);
        metrics.LinkLost(batches);
        foreach (var connection in connections.All)
        {
            if (!connection.Registered) continue;
            connection.Send(CountedError(ErrorCodes.LostInTransit, batches, connection.PeerId,
                $"frames from another node of the relay ({source}) were lost in transit"), droppable: false);
        }
    }

    private byte[] CountedError(string code, long count, string? to, string message) =>
        RelayFrames.Error(code, string.Create(CultureInfo.InvariantCulture, $"{count} {message}"), to, default,
            time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0,
            Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\"count\":{count}")));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "Gateway {GatewayId} listening for cluster events")]
        public static partial void Listening(ILogger logger, string gatewayId);

        [LoggerMessage(EventId = 1902, Level = LogLevel.Error, Message = "Applying cluster event {EventType} failed")]
        public static partial void EventFailed(ILogger logger, Exception exception, string eventType);

        [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "{Batches} batch(es) from gateway {Source} were lost in transit")]
        public static partial void BatchesLost(ILogger logger, long batches, string source);

        [LoggerMessage(EventId = 1904, Level = LogLevel.Trace, Message = "Batch {Sequence} ({Items} item(s)) arrived from gateway {Source}")]
        public static partial void BatchArrived(ILogger logger, long sequence, int items, string source);
    }
}

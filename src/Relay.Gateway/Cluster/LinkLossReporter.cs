using Microsoft.Extensions.Logging;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Says what the links between gateways lost: to local senders, the frames their links could not deliver
/// (<c>undelivered</c>); to local receivers, batches that never arrived from another gateway (<c>lost_in_transit</c>).
/// </summary>
internal sealed partial class LinkLossReporter(
    ConnectionRegistry connections,
    ErrorReplies errors,
    RelayMetrics metrics,
    ILogger<LinkLossReporter> logger)
{
    /// <summary>Frames local connections sent that a link could not deliver: each sender is told how many.</summary>
    public void Undelivered(IReadOnlyList<LinkItem> items)
    {
        metrics.LinkDropped(items.Count);
        foreach (var group in items.GroupBy(i => i.ConnectionId))
        {
            if (!connections.TryGet(group.Key, out var sender) || sender!.PeerId is null) continue;
            errors.SendUndelivered(sender, group.Count());
        }
    }

    /// <summary>Batches from <paramref name="source"/> never arrived: every local member of a mesh that gateway
    /// serves may have missed frames, and is told so.</summary>
    public void Lost(string source, long batches)
    {
        Log.BatchesLost(logger, batches, source);
        metrics.LinkLost(batches);
        foreach (var connection in connections.All)
        {
            if (!connection.Registered) continue;
            errors.SendLostInTransit(connection, batches, source);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "{Batches} batch(es) from gateway {Source} were lost in transit")]
        public static partial void BatchesLost(ILogger logger, long batches, string source);
    }
}

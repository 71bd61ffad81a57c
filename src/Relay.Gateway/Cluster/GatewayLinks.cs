using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// This gateway's outgoing links: one ordered pipe per destination gateway. Items are queued without blocking the
/// sender, and one loop per link sends them in numbered batches to the destination's <see cref="IGatewayInbox"/>,
/// with at most <see cref="LinkBatch.MaxInFlight"/> calls on the way: the receiver puts them back in order (calls
/// may overtake each other between silos), which is what keeps every sender's frames in order across nodes. While
/// the window is full the next batch fills up, so a busy link sends larger batches rather than more calls.
/// </summary>
internal sealed partial class GatewayLinks(
    IClusterClient cluster,
    GatewayIdentity gateway,
    LinkLossReporter losses,
    RelayMetrics metrics,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayLinks> logger) : IGatewayLinks, IDisposable
{
    private const int MaxBatchItems = 256;
    private const int MaxBatchBytes = 1024 * 1024;

    // A destination that cannot keep up (or is gone) must not grow this gateway's memory without bound.
    private const long MaxQueuedBytesPerLink = 64L * 1024 * 1024;

    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2)];

    private readonly ConcurrentDictionary<string, Link> _links = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopped);

    public void Send(string destination, LinkItem item)
    {
        var link = _links.GetOrAdd(destination, static (id, self) => self.Open(id), this);
        var size = QueuedSize(item);
        if (Interlocked.Add(ref link.QueuedBytes, size) > MaxQueuedBytesPerLink)
        {
            Interlocked.Add(ref link.QueuedBytes, -size);
            losses.Undelivered([item]);
            return;
        }
        link.Items.Writer.TryWrite(item);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>What an item counts against its link's byte bound (and a batch's): the frame plus the rest.</summary>
    private static int QueuedSize(LinkItem item) => (item.Frame?.Length ?? 0) + 128;

    private Link Open(string destination)
    {
        var link = new Link(destination);
        // One loop per link, until the gateway stops. It outlives whatever sent the link's first item, so it must not
        // inherit that caller's ambient context: its span (a presence's) would parent every batch span for good, and
        // Orleans' request context would ride along on every batch call.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => SendBatchesAsync(link));
        }
        return link;
    }

    private async Task SendBatchesAsync(Link link)
    {
        var reader = link.Items.Reader;
        var inFlight = new Queue<Task>(LinkBatch.MaxInFlight);
        var batch = new List<LinkItem>(MaxBatchItems);
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                // Batch n goes out only once batch n - MaxInFlight is done (delivered or given up): the receiver
                // relies on that to tell a batch still on its way from one that will never come.
                if (inFlight.Count == LinkBatch.MaxInFlight) await inFlight.Dequeue();
                var bytes = 0;
                while (batch.Count < MaxBatchItems && bytes < MaxBatchBytes && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    bytes += QueuedSize(item);
                }
                Interlocked.Add(ref link.QueuedBytes, -bytes);
                inFlight.Enqueue(DeliverAsync(link, ++link.Sequence, [.. batch]));
                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
        await Task.WhenAll(inFlight);
        // Whatever is left at shutdown was never sent.
        while (reader.TryRead(out var left)) batch.Add(left);
        if (batch.Count > 0) losses.Undelivered(batch);
    }

    /// <summary>Delivers one batch, retrying, and tells its senders when it cannot. Never throws. Its span (when
    /// traced) is the ambient one for the calls, so Orleans' spans for them are its children.</summary>
    private async Task DeliverAsync(Link link, long sequence, LinkItem[] items)
    {
        using var activity = RelayActivities.StartLinkSend(gateway.Id, link.Destination, sequence, items.Length);
        var batch = new LinkBatch(gateway.Id, sequence, items, RelayActivities.TraceParentOf(activity));
        var delivered = false;
        try
        {
            delivered = await TryDeliverAsync(link, batch);
        }
        catch (OperationCanceledException)
        {
            // shutting down: the batch is reported below
        }
        if (delivered)
        {
            metrics.LinkSent(batch.Items.Length);
        }
        else
        {
            RelayActivities.Failed(activity, "undelivered");
            losses.Undelivered(batch.Items);
        }
    }

    private async Task<bool> TryDeliverAsync(Link link, LinkBatch batch)
    {
        // A destination that failed its last batch gets one attempt per batch until it takes one again, so that a
        // gateway that is gone costs each later batch one failed call, not the whole retry schedule.
        var attempts = link.Unreachable ? 1 : RetryDelays.Length + 1;
        for (var attempt = 1; ; attempt++)
        {
            Exception? failure = null;
            try
            {
                var inbox = link.Inbox ??= await cluster.GetGrain<IGatewayGrain>(link.Destination).GetInbox()
                    .WaitAsync(DeliveryTimeout, _stopping.Token);
                if (inbox is not null)
                {
                    // A call that reached a silo which then died gets no answer before Orleans' response timeout;
                    // give up sooner and send the batch again. If the first attempt did arrive after all, the
                    // receiver drops the copy by its sequence number.
                    await inbox.Deliver(batch).WaitAsync(DeliveryTimeout, _stopping.Token);
                    link.Unreachable = false;
                    Log.Delivered(logger, batch.Sequence, batch.Items.Length, link.Destination, attempt);
                    return true;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !_stopping.IsCancellationRequested)
            {
                // A silo going down, or the destination gateway gone: look its inbox up again before the next try.
                failure = ex;
                link.Inbox = null;
            }
            if (attempt >= attempts)
            {
                Log.DeliveryFailed(logger, failure, link.Destination, batch.Items.Length);
                link.Unreachable = true;
                return false;
            }
            await Task.Delay(RetryDelays[attempt - 1], _stopping.Token);
        }
    }

    private sealed class Link(string destination)
    {
        public string Destination { get; } = destination;

        public Channel<LinkItem> Items { get; } = Channel.CreateUnbounded<LinkItem>(new UnboundedChannelOptions { SingleReader = true });

        public long QueuedBytes;

        public long Sequence;

        /// <summary>The destination's inbox, looked up once and again after a failed call. The link's calls in
        /// flight share it; a lookup racing another is harmless (both find the same inbox).</summary>
        public volatile IGatewayInbox? Inbox;

        public volatile bool Unreachable;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Could not deliver {Items} item(s) to gateway {Gateway} (gone, or no inbox registered); their senders are told")]
        public static partial void DeliveryFailed(ILogger logger, Exception? exception, string gateway, int items);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Trace, Message = "Batch {Sequence} ({Items} item(s)) delivered to gateway {Gateway} at attempt {Attempt}")]
        public static partial void Delivered(ILogger logger, long sequence, int items, string gateway, int attempt);
    }
}

using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Diagnostics;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// This gateway's outgoing links: one ordered pipe per destination gateway. Items are queued without
/// blocking the sender and published in batches on the destination's stream by one loop per link, each batch
/// awaited before the next, which is what keeps every sender's frames in order across nodes (unawaited or
/// parallel publishes may overtake each other between silos).
/// </summary>
internal sealed partial class GatewayLinks(
    IClusterClient cluster,
    GatewayIdentity gateway,
    RelayMetrics metrics,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayLinks> logger) : IDisposable
{
    private const int MaxBatchItems = 256;
    private const int MaxBatchBytes = 1024 * 1024;

    // A destination that cannot keep up (or is gone) must not grow this gateway's memory without bound.
    private const long MaxQueuedBytesPerLink = 64L * 1024 * 1024;

    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2)];

    private readonly ConcurrentDictionary<string, Link> _links = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopped);

    /// <summary>Called with the items a link could not deliver, so their senders can be told.</summary>
    public Action<IReadOnlyList<LinkItem>>? Undelivered { get; set; }

    public void Send(string destination, LinkItem item)
    {
        var link = _links.GetOrAdd(destination, static (id, self) => self.Open(id), this);
        var size = (item.Frame?.Length ?? 0) + 128;
        if (Interlocked.Add(ref link.QueuedBytes, size) > MaxQueuedBytesPerLink)
        {
            Interlocked.Add(ref link.QueuedBytes, -size);
            metrics.LinkDropped(1);
            Undelivered?.Invoke([item]);
            return;
        }
        link.Items.Writer.TryWrite(item);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private Link Open(string destination)
    {
        var link = new Link(destination);
        link.Publisher = Task.Run(() => PublishAsync(link));
        return link;
    }

    private async Task PublishAsync(Link link)
    {
        var stream = cluster.GetStreamProvider(GatewayStreams.Provider).GetStream<GatewayEvent>(GatewayStreams.For(link.Destination));
        var reader = link.Items.Reader;
        var batch = new List<LinkItem>(MaxBatchItems);
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                var bytes = 0;
                while (batch.Count < MaxBatchItems && bytes < MaxBatchBytes && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    bytes += (item.Frame?.Length ?? 0) + 128;
                }
                Interlocked.Add(ref link.QueuedBytes, -bytes);
                if (await TryPublishAsync(stream, new LinkBatch(gateway.Id, ++link.Sequence, [.. batch]), link.Destination))
                {
                    metrics.LinkSent(batch.Count);
                }
                else
                {
                    metrics.LinkDropped(batch.Count);
                    Undelivered?.Invoke([.. batch]);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
        // Whatever is left at shutdown was never sent.
        while (reader.TryRead(out var left)) batch.Add(left);
        if (batch.Count > 0) Undelivered?.Invoke(batch);
    }

    private async Task<bool> TryPublishAsync(Orleans.Streams.IAsyncStream<GatewayEvent> stream, LinkBatch batch, string destination)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                // A publish addressed to a queue on a silo that just died gets no answer before Orleans' response
                // timeout (30 s), and the link sends nothing meanwhile; give it up sooner and send it again. If
                // the first attempt did arrive after all, the receiver drops the copy by its sequence number.
                await stream.OnNextAsync(batch).WaitAsync(PublishTimeout, _stopping.Token);
                Log.Published(logger, batch.Sequence, batch.Items.Length, destination, attempt + 1);
                return true;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !_stopping.IsCancellationRequested)
            {
                // A silo going down, or the stream queue being full: retry a few times, then report the batch.
                if (attempt == RetryDelays.Length)
                {
                    Log.PublishFailed(logger, ex, destination, batch.Items.Length);
                    return false;
                }
                await Task.Delay(RetryDelays[attempt], _stopping.Token);
            }
        }
    }

    private sealed class Link(string destination)
    {
        public string Destination { get; } = destination;

        public Channel<LinkItem> Items { get; } = Channel.CreateUnbounded<LinkItem>(new UnboundedChannelOptions { SingleReader = true });

        public long QueuedBytes;

        public long Sequence;

        public Task? Publisher { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Could not deliver {Items} item(s) to gateway {Gateway}; their senders are told")]
        public static partial void PublishFailed(ILogger logger, Exception exception, string gateway, int items);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Trace, Message = "Batch {Sequence} ({Items} item(s)) published to gateway {Gateway} at attempt {Attempt}")]
        public static partial void Published(ILogger logger, long sequence, int items, string gateway, int attempt);
    }
}

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
/// sender, and one loop per link sends them in numbered batches to the destination's <see cref="IGatewayInbox"/> as
/// one-way calls. The destination acknowledges cumulatively on the reverse link (<see cref="Acknowledge"/>); a link
/// has at most <see cref="LinkBatch.MaxInFlight"/> batches unacknowledged, so its memory stays bounded and a slow or
/// dead destination stops it rather than growing it. The receiver puts batches back in order (calls may overtake
/// each other between silos), which is what keeps every sender's frames in order across nodes. While the window is
/// full the next batch fills up, so a busy link sends larger batches rather than more calls. A batch with no
/// acknowledgement within its timeout is sent again, and after the last attempt given up: its senders are told
/// (<c>undelivered</c>), as they were when a call failed.
/// </summary>
internal sealed partial class GatewayLinks : IGatewayLinks, IDisposable
{
    private const int MaxBatchItems = 256;
    private const int MaxBatchBytes = 1024 * 1024;

    // A destination that cannot keep up (or is gone) must not grow this gateway's memory without bound.
    private const long MaxQueuedBytesPerLink = 64L * 1024 * 1024;

    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(3);

    // How long each attempt of a batch waits for its acknowledgement before the batch is sent again (or, after the
    // last, given up). Acknowledgements come within milliseconds on a working link; a silo that died on the way loses
    // the batch (one-way calls get no error back), and these timeouts are what finds that out. The total (4 s) stays
    // under the receiver's gap timeout (5 s), so a batch sent again can still fill a gap before it is reported lost.
    private static readonly TimeSpan[] AttemptTimeouts = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];

    private static readonly TimeSpan DeadlineCheckInterval = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentDictionary<string, Link> _links = new(StringComparer.Ordinal);
    private readonly IClusterClient _cluster;
    private readonly GatewayIdentity _gateway;
    private readonly LinkLossReporter _losses;
    private readonly RelayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<GatewayLinks> _logger;
    private readonly CancellationTokenSource _stopping;
    private readonly ITimer _deadlineCheck;
    private int _disposed;

    public GatewayLinks(
        IClusterClient cluster,
        GatewayIdentity gateway,
        LinkLossReporter losses,
        RelayMetrics metrics,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<GatewayLinks> logger)
    {
        _cluster = cluster;
        _gateway = gateway;
        _losses = losses;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopped);
        // The timer outlives whatever resolved this singleton: it must not carry that caller's ambient context.
        using (ExecutionContext.SuppressFlow())
        {
            _deadlineCheck = time.CreateTimer(static state => ((GatewayLinks)state!).CheckDeadlines(), this, DeadlineCheckInterval, DeadlineCheckInterval);
        }
    }

    public void Send(string destination, LinkItem item)
    {
        var link = _links.GetOrAdd(destination, static (id, self) => self.Open(id), this);
        var size = QueuedSize(item);
        if (Interlocked.Add(ref link.QueuedBytes, size) > MaxQueuedBytesPerLink)
        {
            Interlocked.Add(ref link.QueuedBytes, -size);
            _losses.Undelivered([item]);
            return;
        }
        link.Items.Writer.TryWrite(item);
        Interlocked.Increment(ref link.QueuedItems);
    }

    /// <summary>The destination gateway has applied (or given up) every batch of this gateway's link to it up to
    /// <paramref name="upToSequence"/>: they leave the window, which makes room for the next ones.</summary>
    public void Acknowledge(string destination, long upToSequence)
    {
        if (!_links.TryGetValue(destination, out var link)) return;
        TaskCompletionSource? windowOpened = null;
        lock (link.Lock)
        {
            var acknowledged = false;
            while (link.Unacknowledged.TryPeek(out var oldest) && oldest.Batch.Sequence <= upToSequence)
            {
                link.Unacknowledged.Dequeue();
                _metrics.LinkSent(oldest.Batch.Items.Length);
                acknowledged = true;
            }
            if (acknowledged)
            {
                link.Unreachable = false;
                windowOpened = link.TakeWindowWaiter();
            }
        }
        windowOpened?.TrySetResult();
    }

    public void Dispose()
    {
        // The container disposes this once per registration it is reachable by (this type and IGatewayLinks).
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _deadlineCheck.Dispose();
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
        var batch = new List<LinkItem>(MaxBatchItems);
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                // Batch n goes out only once batch n - MaxInFlight is done (acknowledged or given up): the receiver
                // relies on that to tell a batch still on its way from one that will never come.
                await WindowOpenAsync(link);
                var bytes = 0;
                while (batch.Count < MaxBatchItems && bytes < MaxBatchBytes && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    bytes += QueuedSize(item);
                }
                Interlocked.Add(ref link.QueuedBytes, -bytes);
                Interlocked.Add(ref link.QueuedItems, -batch.Count);
                var sequence = ++link.Sequence;
                LinkBatch linkBatch;
                using (var activity = RelayActivities.StartLinkSend(_gateway.Id, link.Destination, sequence, batch.Count))
                {
                    // Built under the lock: an acknowledgement handed to this link (CarryAcknowledgement) is either
                    // on this batch or on a later one.
                    lock (link.Lock)
                    {
                        linkBatch = new LinkBatch(_gateway.Id, sequence, [.. batch], RelayActivities.TraceParentOf(activity), link.TakeCarried());
                        link.Unacknowledged.Enqueue(new PendingBatch(linkBatch, Deadline(0)));
                    }
                }
                batch.Clear();
                await TransmitAsync(link, linkBatch, attempt: 1);
            }
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
        // Whatever is not acknowledged by now, or was never sent, is reported: the gateway can no longer tell.
        lock (link.Lock)
        {
            while (link.Unacknowledged.TryDequeue(out var pending)) batch.AddRange(pending.Batch.Items);
            link.Stopped = true;
        }
        while (reader.TryRead(out var left)) batch.Add(left);
        if (batch.Count > 0) _losses.Undelivered(batch);
    }

    private async ValueTask WindowOpenAsync(Link link)
    {
        Task waiting;
        long carried;
        lock (link.Lock)
        {
            if (link.Unacknowledged.Count < LinkBatch.MaxInFlight) return;
            link.WindowWaiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting = link.WindowWaiter.Task.WaitAsync(_stopping.Token);
            // No batch goes out until the window opens, and that may wait for the other side's acknowledgement, which
            // may wait for this one: an acknowledgement handed to this link goes out on its own now.
            carried = link.TakeCarried();
        }
        if (carried > 0) await AcknowledgeAsync(link, carried);
        await waiting;
    }

    /// <summary>Sends an acknowledgement handed to this link on its own (one-way, to the same inbox as the batches).
    /// Never throws: one lost makes its source send batches again, whose copies ask for it again.</summary>
    private async ValueTask AcknowledgeAsync(Link link, long upToSequence)
    {
        try
        {
            var inbox = link.Inbox
                ?? await _cluster.GetGrain<IGatewayGrain>(link.Destination).GetInbox().WaitAsync(LookupTimeout, _stopping.Token);
            if (inbox is null) return;
            var call = inbox.Acknowledge(_gateway.Id, upToSequence);
            if (!call.IsCompletedSuccessfully) await call;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.SendFailed(_logger, ex, upToSequence, link.Destination);
        }
    }

    /// <summary>Hands an acknowledgement of the reverse link (from <paramref name="destination"/> to this gateway) to
    /// the link to that gateway, when it has a batch coming anyway: true when that batch will carry it, false when
    /// the caller must send it on its own.</summary>
    public bool CarryAcknowledgement(string destination, long upToSequence)
    {
        if (!_links.TryGetValue(destination, out var link)) return false;
        lock (link.Lock)
        {
            // Items not yet taken mean a batch is still to be built (under this lock, after this), unless the window
            // is full, in which case WindowOpenAsync sends what was handed over.
            if (link.Stopped || Volatile.Read(ref link.QueuedItems) <= 0 || link.Unacknowledged.Count >= LinkBatch.MaxInFlight) return false;
            if (upToSequence > link.Carried) link.Carried = upToSequence;
            return true;
        }
    }

    /// <summary>Sends one batch (one-way), looking the destination's inbox up first when needed. Never throws: a
    /// batch that could not go out waits for its acknowledgement like one lost on the way.</summary>
    private async ValueTask TransmitAsync(Link link, LinkBatch batch, int attempt)
    {
        try
        {
            var inbox = link.Inbox;
            if (inbox is null)
            {
                inbox = await _cluster.GetGrain<IGatewayGrain>(link.Destination).GetInbox().WaitAsync(LookupTimeout, _stopping.Token);
                if (inbox is null) return; // gone, or not registered (yet)
                link.Inbox = inbox;
            }
            var call = inbox.Deliver(batch);
            if (!call.IsCompletedSuccessfully) await call;
            Log.Sent(_logger, batch.Sequence, batch.Items.Length, link.Destination, attempt);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !_stopping.IsCancellationRequested)
        {
            // A silo going down, or the destination gateway gone: look its inbox up again before the next try.
            link.Inbox = null;
            Log.SendFailed(_logger, ex, batch.Sequence, link.Destination);
        }
        catch (OperationCanceledException)
        {
            // shutting down: the loop reports what is left
        }
    }

    /// <summary>Sends again the batches whose attempt timed out, and gives up those out of attempts, oldest first
    /// (so that the window always starts at the oldest batch not done, which the receiver's rule relies on).</summary>
    private void CheckDeadlines()
    {
        var now = _time.GetTimestamp();
        foreach (var link in _links.Values)
        {
            List<LinkItem>? givenUp = null;
            List<(LinkBatch Batch, int Attempt)>? again = null;
            TaskCompletionSource? windowOpened = null;
            lock (link.Lock)
            {
                if (link.Stopped || link.Unacknowledged.Count == 0) continue;
                // A destination that failed its last batch gets one attempt per batch until it acknowledges one again,
                // so that a gateway that is gone costs each later batch one timeout, not the whole schedule.
                var attempts = link.Unreachable ? 1 : AttemptTimeouts.Length;
                while (link.Unacknowledged.TryPeek(out var oldest) && now >= oldest.Deadline && oldest.Attempts >= attempts)
                {
                    link.Unacknowledged.Dequeue();
                    (givenUp ??= []).AddRange(oldest.Batch.Items);
                    link.Unreachable = true;
                    attempts = 1;
                }
                foreach (var pending in link.Unacknowledged)
                {
                    if (now < pending.Deadline || pending.Attempts >= attempts) continue;
                    pending.Deadline = Deadline(pending.Attempts);
                    pending.Attempts++;
                    (again ??= []).Add((pending.Batch, pending.Attempts));
                }
                if (givenUp is not null) windowOpened = link.TakeWindowWaiter();
            }
            if (givenUp is not null)
            {
                Log.DeliveryFailed(_logger, link.Destination, givenUp.Count);
                _losses.Undelivered(givenUp);
            }
            windowOpened?.TrySetResult();
            if (again is not null)
            {
                // The inbox may have moved (its gateway restarted under the same grain) or gone: look it up again.
                link.Inbox = null;
                _ = SendAgainAsync(link, again);
            }
        }
    }

    private async Task SendAgainAsync(Link link, List<(LinkBatch Batch, int Attempt)> batches)
    {
        foreach (var (batch, attempt) in batches) await TransmitAsync(link, batch, attempt);
    }

    /// <summary>When an attempt sent now, after <paramref name="attemptsMade"/> earlier ones, times out.</summary>
    private long Deadline(int attemptsMade) =>
        _time.GetTimestamp() + (long)(AttemptTimeouts[attemptsMade].TotalSeconds * _time.TimestampFrequency);

    private sealed class PendingBatch(LinkBatch batch, long deadline)
    {
        public LinkBatch Batch { get; } = batch;

        /// <summary>When the current attempt has waited long enough for its acknowledgement (a timestamp).</summary>
        public long Deadline { get; set; } = deadline;

        public int Attempts { get; set; } = 1;
    }

    private sealed class Link(string destination)
    {
        public string Destination { get; } = destination;

        public Channel<LinkItem> Items { get; } = Channel.CreateUnbounded<LinkItem>(new UnboundedChannelOptions { SingleReader = true });

        public long QueuedBytes;

        /// <summary>Items written and not yet taken into a batch (the channel of a single reader cannot count them).</summary>
        public long QueuedItems;

        /// <summary>The last sequence number handed out; only the link's loop touches it.</summary>
        public long Sequence;

        /// <summary>The destination's inbox, looked up once and again after a failed or timed-out attempt. A lookup
        /// racing another is harmless (both find the same inbox).</summary>
        public volatile IGatewayInbox? Inbox;

        /// <summary>Guards what follows: the loop, acknowledgements and the deadline check all touch it.</summary>
        public Lock Lock { get; } = new();

        /// <summary>The window: batches sent and not acknowledged yet, in sequence order.</summary>
        public Queue<PendingBatch> Unacknowledged { get; } = new(LinkBatch.MaxInFlight);

        /// <summary>Set while the loop waits for room in the window.</summary>
        public TaskCompletionSource? WindowWaiter { get; set; }

        public bool Unreachable { get; set; }

        public bool Stopped { get; set; }

        /// <summary>An acknowledgement of the reverse link for the next batch to carry (0: none).</summary>
        public long Carried { get; set; }

        public long TakeCarried()
        {
            var carried = Carried;
            Carried = 0;
            return carried;
        }

        /// <summary>The loop's waiter, when the window now has room for it (the caller completes it outside the lock).</summary>
        public TaskCompletionSource? TakeWindowWaiter()
        {
            if (WindowWaiter is null || Unacknowledged.Count >= LinkBatch.MaxInFlight) return null;
            var waiter = WindowWaiter;
            WindowWaiter = null;
            return waiter;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Could not deliver {Items} item(s) to gateway {Gateway} (gone, unreachable, or no inbox registered); their senders are told")]
        public static partial void DeliveryFailed(ILogger logger, string gateway, int items);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Trace, Message = "Batch {Sequence} ({Items} item(s)) sent to gateway {Gateway}, attempt {Attempt}")]
        public static partial void Sent(ILogger logger, long sequence, int items, string gateway, int attempt);

        [LoggerMessage(EventId = 1603, Level = LogLevel.Debug, Message = "Batch {Sequence} could not be sent to gateway {Gateway}; it is sent again when its attempt times out")]
        public static partial void SendFailed(ILogger logger, Exception exception, long sequence, string gateway);
    }
}

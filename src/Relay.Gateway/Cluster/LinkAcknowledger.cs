using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// The receiving end's acknowledgements: tells each source gateway how far its link to this gateway has been applied
/// (<see cref="IGatewayInbox.Acknowledge"/>, one-way, on the source's own inbox). Acknowledgements are cumulative, so
/// one covers every batch before it, and each is a whole Orleans message (a serialization and several thread hand-offs
/// on both nodes) when it goes on its own. So it goes on its own only when the source needs it: once
/// <see cref="AcknowledgeEvery"/> batches of the source wait for one, when a batch came twice (the source did not get
/// the last one), or when batches held behind a gap were applied; otherwise it rides the next batch of this gateway's
/// link to the source (<see cref="GatewayLinks.CarryAcknowledgement"/>), and what neither took goes out on its own
/// within <see cref="FlushInterval"/>. A send on its own runs after the current work item of the thread that asked
/// (without waking another), so the acknowledgements asked for meanwhile collapse into it.
/// </summary>
internal sealed partial class LinkAcknowledger : IDisposable
{
    /// <summary>How many applied batches of a source wait for an acknowledgement before one goes out on its own. At
    /// most <see cref="LinkBatch.MaxInFlight"/>: a source whose window is full has that many waiting, so it never
    /// waits longer than one acknowledgement's trip; half of it lets a full window open while its other half is on the
    /// way.</summary>
    internal const int AcknowledgeEvery = LinkBatch.MaxInFlight / 2;

    /// <summary>How long an acknowledgement waits at most for a batch to ride: far below the source's 1 s attempt
    /// timeout, so that a quiet link's last batches are not sent again.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(3);

    // One entry per gateway that ever sent to this one: gateways, not clients, grow it (like the sequencer's sources).
    private readonly ConcurrentDictionary<string, Source> _sources = new(StringComparer.Ordinal);
    private readonly IClusterClient _cluster;
    private readonly GatewayIdentity _gateway;
    private readonly GatewayLinks _links;
    private readonly ILogger<LinkAcknowledger> _logger;
    private readonly ITimer _flush;

    public LinkAcknowledger(IClusterClient cluster, GatewayIdentity gateway, GatewayLinks links, TimeProvider time, ILogger<LinkAcknowledger> logger)
    {
        _cluster = cluster;
        _gateway = gateway;
        _links = links;
        _logger = logger;
        // The timer outlives whatever resolved this singleton: it must not carry that caller's ambient context.
        using (ExecutionContext.SuppressFlow())
        {
            _flush = time.CreateTimer(static state => ((LinkAcknowledger)state!).Flush(), this, FlushInterval, FlushInterval);
        }
    }

    /// <summary>Acknowledges every batch from <paramref name="source"/> up to <paramref name="upToSequence"/>: at once
    /// when <paramref name="urgent"/> (also when that value went out already: a batch that came twice says it was
    /// lost) or when enough batches wait for it, on a batch going that way or within the flush interval otherwise.</summary>
    public void Acknowledge(string source, long upToSequence, bool urgent = false)
    {
        var entry = _sources.GetOrAdd(source, static id => new Source(id));
        lock (entry.Lock)
        {
            if (upToSequence > entry.UpTo) entry.UpTo = upToSequence;
            if (!urgent)
            {
                if (entry.UpTo <= entry.Sent) return;
                if (entry.UpTo - entry.Sent < AcknowledgeEvery)
                {
                    // Costs no message of its own: the batch that carries it goes out anyway.
                    if (_links.CarryAcknowledgement(entry.Id, entry.UpTo)) entry.Sent = entry.UpTo;
                    return;
                }
            }
        }
        Schedule(entry);
    }

    public void Dispose() => _flush.Dispose();

    private void Schedule(Source entry)
    {
        if (Interlocked.Exchange(ref entry.Scheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Owner.SendAsync(state.Entry), (Owner: this, Entry: entry), preferLocal: true);
        }
    }

    /// <summary>Sends what waited a whole interval without a batch to ride.</summary>
    private void Flush()
    {
        foreach (var entry in _sources.Values)
        {
            bool due;
            lock (entry.Lock) due = entry.UpTo > entry.Sent;
            if (due) Schedule(entry);
        }
    }

    private async Task SendAsync(Source entry)
    {
        // Cleared before the value is read: an acknowledgement asked for from here on schedules another send.
        Volatile.Write(ref entry.Scheduled, 0);
        long upTo;
        lock (entry.Lock)
        {
            upTo = entry.UpTo;
            if (upTo > entry.Sent) entry.Sent = upTo;
            // A batch this gateway is about to send the source anyway carries it, for no message of its own.
            if (_links.CarryAcknowledgement(entry.Id, upTo)) return;
        }
        try
        {
            var inbox = entry.Inbox;
            if (inbox is null)
            {
                inbox = await _cluster.GetGrain<IGatewayGrain>(entry.Id).GetInbox().WaitAsync(LookupTimeout);
                if (inbox is null) return; // the source is gone: nobody waits for this
                entry.Inbox = inbox;
            }
            var call = inbox.Acknowledge(_gateway.Id, upTo);
            if (!call.IsCompletedSuccessfully) await call;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The source sends its unacknowledged batches again; the copies ask for this acknowledgement again.
            entry.Inbox = null;
            Log.AcknowledgeFailed(_logger, ex, entry.Id, upTo);
        }
    }

    private sealed class Source(string id)
    {
        public string Id { get; } = id;

        /// <summary>Guards <see cref="UpTo"/> and <see cref="Sent"/>.</summary>
        public Lock Lock { get; } = new();

        /// <summary>The highest sequence number asked to be acknowledged.</summary>
        public long UpTo { get; set; }

        /// <summary>The highest sequence number sent on its own or handed to a batch to carry.</summary>
        public long Sent { get; set; }

        public int Scheduled;

        public volatile IGatewayInbox? Inbox;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1907, Level = LogLevel.Debug, Message = "Could not acknowledge batches up to {Sequence} to gateway {Source}")]
        public static partial void AcknowledgeFailed(ILogger logger, Exception exception, string source, long sequence);
    }
}

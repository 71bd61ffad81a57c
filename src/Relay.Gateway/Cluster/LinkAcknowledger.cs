using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// The receiving end's acknowledgements: tells each source gateway how far its link to this gateway has been applied
/// (<see cref="IGatewayInbox.Acknowledge"/>, one-way, on the source's own inbox). Acknowledgements are cumulative, so
/// the ones asked for while one is waiting to go out collapse into it: a burst of batches from one source costs
/// one acknowledgement, sent once the inbox has taken the burst (it runs after the current work item of the thread
/// that asked, without waking another), and on a batch of this gateway's link to the source when one is about to go
/// out (<see cref="GatewayLinks.CarryAcknowledgement"/>).
/// </summary>
internal sealed partial class LinkAcknowledger(IClusterClient cluster, GatewayIdentity gateway, GatewayLinks links, ILogger<LinkAcknowledger> logger)
{
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(3);

    // One entry per gateway that ever sent to this one: gateways, not clients, grow it (like the sequencer's sources).
    private readonly ConcurrentDictionary<string, Source> _sources = new(StringComparer.Ordinal);

    /// <summary>Acknowledges every batch from <paramref name="source"/> up to <paramref name="upToSequence"/>, soon.
    /// Asked again with the same value (a batch that came twice), it is sent again: the first may have been lost.</summary>
    public void Acknowledge(string source, long upToSequence)
    {
        var entry = _sources.GetOrAdd(source, static id => new Source(id));
        long seen;
        while ((seen = Volatile.Read(ref entry.UpTo)) < upToSequence && Interlocked.CompareExchange(ref entry.UpTo, upToSequence, seen) != seen)
        {
        }
        if (Interlocked.Exchange(ref entry.Scheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Owner.SendAsync(state.Entry), (Owner: this, Entry: entry), preferLocal: true);
        }
    }

    private async Task SendAsync(Source entry)
    {
        // Cleared before the value is read: an acknowledgement asked for from here on schedules another send.
        Volatile.Write(ref entry.Scheduled, 0);
        var upTo = Volatile.Read(ref entry.UpTo);
        try
        {
            // A batch this gateway is about to send the source anyway carries it, for no message of its own.
            if (links.CarryAcknowledgement(entry.Id, upTo)) return;
            var inbox = entry.Inbox;
            if (inbox is null)
            {
                inbox = await cluster.GetGrain<IGatewayGrain>(entry.Id).GetInbox().WaitAsync(LookupTimeout);
                if (inbox is null) return; // the source is gone: nobody waits for this
                entry.Inbox = inbox;
            }
            var call = inbox.Acknowledge(gateway.Id, upTo);
            if (!call.IsCompletedSuccessfully) await call;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The source sends its unacknowledged batches again; the copies ask for this acknowledgement again.
            entry.Inbox = null;
            Log.AcknowledgeFailed(logger, ex, entry.Id, upTo);
        }
    }

    private sealed class Source(string id)
    {
        public string Id { get; } = id;

        public long UpTo;

        public int Scheduled;

        public volatile IGatewayInbox? Inbox;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1907, Level = LogLevel.Debug, Message = "Could not acknowledge batches up to {Sequence} to gateway {Source}")]
        public static partial void AcknowledgeFailed(ILogger logger, Exception exception, string source, long sequence);
    }
}

using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Puts each source gateway's batches back in the order it numbered them. A link has up to
/// <see cref="LinkBatch.MaxInFlight"/> batches unacknowledged, and calls may overtake each other between silos: a batch
/// that arrives early waits here for the ones before it. A missing batch is given up (reported lost, and the ones
/// after it applied) when a batch numbered <see cref="LinkBatch.MaxInFlight"/> or more after it arrives (its sender
/// is done with it), or when it is still missing after the gap timeout (its sender may be gone). Copies of a batch
/// already applied or given up are dropped. Not thread-safe: the caller serializes.
/// </summary>
internal sealed class LinkSequencer(Action<LinkBatch> apply, Action<string, long> lost, TimeProvider time, TimeSpan gapTimeout)
{
    private readonly Dictionary<string, Source> _sources = new(StringComparer.Ordinal);

    /// <summary>Takes one batch: applies it (and any that waited for it) when it is next, or holds it. False when it
    /// is a copy of one applied, given up or held already.</summary>
    public bool Accept(LinkBatch batch)
    {
        if (!_sources.TryGetValue(batch.SourceGateway, out var source))
        {
            _sources[batch.SourceGateway] = source = new Source(batch.SourceGateway);
        }
        var sequence = batch.Sequence;
        if (sequence < source.Next || source.Early.ContainsKey(sequence)) return false;
        if (sequence >= source.Next + LinkBatch.MaxInFlight) GiveUpBelow(source, sequence - LinkBatch.MaxInFlight + 1);
        if (sequence == source.Next)
        {
            apply(batch);
            source.Next++;
            ApplyWaiting(source);
        }
        else
        {
            if (source.Early.Count == 0) source.WaitingSince = time.GetTimestamp();
            source.Early.Add(sequence, batch);
        }
        return true;
    }

    /// <summary>Gives up the gaps that have waited longer than the gap timeout; returns the sources that had one
    /// (their <see cref="CompletedThrough"/> moved on), or null.</summary>
    public List<string>? ExpireGaps()
    {
        List<string>? expired = null;
        foreach (var source in _sources.Values)
        {
            if (source.Early.Count > 0 && time.GetElapsedTime(source.WaitingSince) >= gapTimeout)
            {
                GiveUpBelow(source, source.Early.Keys.First());
                (expired ??= []).Add(source.Id);
            }
        }
        return expired;
    }

    /// <summary>The highest sequence number from <paramref name="source"/> up to which every batch was applied or
    /// given up (0 before its first): what the receiver acknowledges.</summary>
    public long CompletedThrough(string source) => _sources.TryGetValue(source, out var s) ? s.Next - 1 : 0;

    private void GiveUpBelow(Source source, long sequence)
    {
        long missing = 0;
        for (; source.Next < sequence; source.Next++)
        {
            if (source.Early.Remove(source.Next, out var early))
            {
                if (missing > 0) lost(source.Id, missing);
                missing = 0;
                apply(early);
            }
            else
            {
                missing++;
            }
        }
        if (missing > 0) lost(source.Id, missing);
        ApplyWaiting(source);
    }

    private void ApplyWaiting(Source source)
    {
        while (source.Early.Remove(source.Next, out var next))
        {
            apply(next);
            source.Next++;
        }
        // What is still held now waits for a new gap: its clock starts again.
        if (source.Early.Count > 0) source.WaitingSince = time.GetTimestamp();
    }

    private sealed class Source(string id)
    {
        public string Id { get; } = id;

        /// <summary>The sequence number to apply next (a link numbers its batches from 1).</summary>
        public long Next { get; set; } = 1;

        public SortedDictionary<long, LinkBatch> Early { get; } = [];

        public long WaitingSince { get; set; }
    }
}

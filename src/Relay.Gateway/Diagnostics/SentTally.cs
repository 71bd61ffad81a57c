namespace Relay.Gateway.Diagnostics;

/// <summary>
/// The frames one connection's writer has written and not yet counted in <c>relay.frames.sent</c> and
/// <c>relay.bytes.sent</c>. Each counter update goes through every metrics listener (OpenTelemetry's aggregation, the
/// dashboard's rates): adding a run of writes at once, instead of each write, takes that off the cost of every
/// delivery. The writer flushes when its queue is drained, and every <see cref="MaxPending"/> frames on a queue that
/// never empties, so the counters lag the socket by at most that many frames.
/// </summary>
internal struct SentTally(RelayMetrics? metrics)
{
    /// <summary>Frames counted at the latest once this many are pending.</summary>
    public const int MaxPending = 64;

    private long _frames;
    private long _bytes;

    public void Add(int bytes)
    {
        _frames++;
        _bytes += bytes;
        if (_frames >= MaxPending) Flush();
    }

    public void Flush()
    {
        if (_frames == 0) return;
        metrics?.FramesSent(_frames, _bytes);
        _frames = 0;
        _bytes = 0;
    }
}

using System.Diagnostics.Metrics;
using Relay.Gateway.Diagnostics;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// Frames per second in and out of this node over the last <see cref="HistorySeconds"/> seconds, for the dashboard's
/// chart. It counts nothing itself: a <see cref="MeterListener"/> reads the relay's own counters
/// (<c>relay.frames.received</c>, <c>relay.frames.sent</c>, and the decrements of <c>relay.connections</c>: every close,
/// whoever closed) of this host's meter factory
/// (other relays in the same process, as in tests, have their own), and <see cref="Sample"/> turns their growth into
/// one point per second. Memory: a fixed ring of points. Off (no listener) when the dashboard is.
/// </summary>
internal sealed class MessageRates : IDisposable
{
    public const int HistorySeconds = 300;

    /// <summary>Running totals; the listener adds to them (its callbacks may run on any thread).
    /// <see cref="Decrements"/>: counts what an up-down counter loses (connections closed), not what it gains.</summary>
    private sealed class Total(bool decrements = false)
    {
        public long Value;

        public bool Decrements { get; } = decrements;
    }

    private readonly MeterListener _listener = new();
    private readonly Total _received = new();
    private readonly Total _sent = new();
    private readonly Total _disconnects = new(decrements: true);
    private readonly Lock _lock = new();
    private readonly RatePoint[] _ring = new RatePoint[HistorySeconds];
    private int _next;
    private int _count;
    private long _lastReceived;
    private long _lastSent;
    private long _lastDisconnects;

    public MessageRates(IMeterFactory meters, DashboardAccess access)
    {
        // Nobody will look: stay off the counters' path.
        if (!access.Enabled) return;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter.Scope, meters) || instrument.Meter.Name != RelayMetrics.MeterName) return;
            Total? total = instrument.Name switch
            {
                "relay.frames.received" => _received,
                "relay.frames.sent" => _sent,
                "relay.connections" => _disconnects,
                _ => null,
            };
            if (total is not null) listener.EnableMeasurementEvents(instrument, total);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, _, state) =>
        {
            var total = (Total)state!;
            if (total.Decrements) value = value < 0 ? -value : 0;
            if (value != 0) Interlocked.Add(ref total.Value, value);
        });
        _listener.Start();
    }

    /// <summary>Appends the growth of the counters since the previous call as the point at <paramref name="unixSeconds"/>
    /// (called once a second).</summary>
    public void Sample(long unixSeconds)
    {
        var received = Interlocked.Read(ref _received.Value);
        var sent = Interlocked.Read(ref _sent.Value);
        var disconnects = Interlocked.Read(ref _disconnects.Value);
        lock (_lock)
        {
            _ring[_next] = new RatePoint(unixSeconds, received - _lastReceived, sent - _lastSent, disconnects - _lastDisconnects);
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
            (_lastReceived, _lastSent, _lastDisconnects) = (received, sent, disconnects);
        }
    }

    /// <summary>The points, oldest first.</summary>
    public RatePoint[] History()
    {
        lock (_lock)
        {
            var points = new RatePoint[_count];
            var start = (_next - _count + _ring.Length) % _ring.Length;
            for (var i = 0; i < _count; i++) points[i] = _ring[(start + i) % _ring.Length];
            return points;
        }
    }

    public void Dispose() => _listener.Dispose();
}

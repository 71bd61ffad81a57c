using Microsoft.Extensions.Options;
using Relay.Grains;

namespace Relay.Gateway.Connections;

/// <summary>
/// How far this node has fallen behind its own schedule, measured on a periodic piece of its own work (the connection
/// sweep's ticks) and added up. Timer callbacks and socket read completions wait in the same thread-pool queue, so a
/// tick that ran late says the reads queued beside it ran about as late: frames that arrived on time sat unread in
/// the kernel's buffers meanwhile. The stale timeout therefore subtracts the lag accrued since a connection's last
/// frame (<see cref="CreditSince"/>): silence the node caused itself is not the peer's.
/// </summary>
/// <remarks>
/// A tick's lateness is the time since the previous tick's start less the period, beyond <see cref="Tolerance"/>. So a
/// node that stays behind by the same delay counts that delay once, when it fell behind, not at every tick (the reads
/// it delays are late by it once too), and a sweep that takes longer than its period counts as well: on a starved
/// node that is the same starvation. Only late ticks are kept, in a ring sized for twice the stale timeout of them
/// (consecutive late ticks are more than a period apart), so a node on schedule keeps nothing and looks nothing up.
/// </remarks>
internal sealed class SchedulingLag
{
    /// <summary>Lateness a tick may have without counting: timer resolution, the sweep's own work and an ordinary GC
    /// pause cost milliseconds to tens of them, and a healthy node must reap on the dot, as it always has. A quarter
    /// of a second is still small against what starvation does (seconds) and against the stale timeout.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(250);

    /// <summary>The ring's bound, whatever the timings (a 1 h stale timeout checked every 50 ms would ask for 144,000
    /// entries). A frame older than the ring gets the credit of the lag the ring still holds.</summary>
    public const int MaxEntries = 256;

    private readonly TimeProvider _time;
    private readonly TimeSpan _period;
    private readonly TimeSpan _maxCredit;
    private readonly Lock _lock = new();

    // The late ticks, oldest at _first: when each started, and the total lag before its own lateness was added.
    private readonly long[] _tickedAt;
    private readonly long[] _lagBefore;
    private int _first;
    private int _count;

    private long _total; // TimeSpan ticks
    private long _previousTick;
    private bool _ticked;

    public SchedulingLag(IOptions<LivenessOptions> liveness, TimeProvider time)
    {
        _time = time;
        _period = liveness.Value.ReapCheckInterval;
        // A node that is always behind must still reap a truly silent peer: at twice the stale timeout at worst.
        _maxCredit = liveness.Value.StaleTimeout;
        var entries = (int)Math.Min(MaxEntries, Math.Ceiling(2 * _maxCredit.Ticks / (double)_period.Ticks));
        _tickedAt = new long[Math.Max(2, entries)];
        _lagBefore = new long[_tickedAt.Length];
    }

    /// <summary>How many late ticks the ring holds at most.</summary>
    public int Capacity => _tickedAt.Length;

    /// <summary>How many late ticks the ring holds now.</summary>
    public int Count
    {
        get { lock (_lock) return _count; }
    }

    /// <summary>All the lag counted since the start.</summary>
    public TimeSpan Total
    {
        get { lock (_lock) return TimeSpan.FromTicks(_total); }
    }

    /// <summary>The lag counted within the last stale timeout (what a peer silent that long is credited).</summary>
    public TimeSpan Recent =>
        CreditSince(_time.GetTimestamp() - (long)(_maxCredit.TotalSeconds * _time.TimestampFrequency));

    /// <summary>Marks the start of a tick of the periodic work: returns the lateness it counts (zero when on time).
    /// The lateness is added here, before the tick does its work, so the tick that finds the node behind credits it
    /// at once: its reaps would otherwise rest on reads that have not run yet.</summary>
    public TimeSpan Tick()
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var previous = _previousTick;
            var first = !_ticked;
            _previousTick = now;
            _ticked = true;
            if (first) return TimeSpan.Zero;
            var late = _time.GetElapsedTime(previous, now) - _period - Tolerance;
            if (late <= TimeSpan.Zero) return TimeSpan.Zero;
            Append(now, _total);
            _total += late.Ticks;
            return late;
        }
    }

    /// <summary>The lag this node accrued since <paramref name="lastFrame"/> (a <see cref="TimeProvider"/>
    /// timestamp): the lateness of every tick at or after it, at most one stale timeout. Allocation-free.</summary>
    public TimeSpan CreditSince(long lastFrame)
    {
        lock (_lock)
        {
            // The first late tick at or after the frame (entries are in time order).
            int low = 0, high = _count;
            while (low < high)
            {
                var middle = (low + high) >>> 1;
                if (_tickedAt[Slot(middle)] < lastFrame) low = middle + 1;
                else high = middle;
            }
            if (low == _count) return TimeSpan.Zero;
            // low is 0 for a frame older than the ring: the ring's oldest entry, what the ring still knows.
            var credit = TimeSpan.FromTicks(_total - _lagBefore[Slot(low)]);
            return credit < _maxCredit ? credit : _maxCredit;
        }
    }

    private void Append(long tickedAt, long lagBefore)
    {
        if (_count == _tickedAt.Length)
        {
            _first = Slot(1);
            _count--;
        }
        var slot = Slot(_count);
        _tickedAt[slot] = tickedAt;
        _lagBefore[slot] = lagBefore;
        _count++;
    }

    private int Slot(int index) => (_first + index) % _tickedAt.Length;
}

namespace Relay.Gateway.Connections;

/// <summary>
/// How long work waits in this process's thread-pool queue before a thread runs it, measured on a work item of its
/// own posted every <see cref="Period"/> (<see cref="Post"/>): the time from posting it to its run. Socket reads wait in
/// that queue: on Linux the socket engine's epoll thread posts each read completion to the pool's global queue, as
/// this probe posts itself (<c>preferLocal: false</c>), so the probe's wait is what a frame or an upgrade request
/// arriving now waits before the relay can read it.
/// </summary>
/// <remarks>
/// Why this signal and not the others at hand:
/// <list type="bullet">
/// <item><see cref="SchedulingLag"/> (the connection sweep's tick lateness) ticks once a second, forgives 250 ms a tick
/// and counts the sweep's own work, which grows with the connections. It answers "how much of a peer's silence did
/// this node cause" after the fact; a node deciding whether to take one more socket needs the queue as it is now,
/// ten times a second. The 100,000-peer cluster run also showed the tick running earlier than the reads queued
/// behind far more work than one timer continuation (bench/results/2026-12-04-scale-cluster-rules.md).</item>
/// <item><see cref="ThreadPool.PendingWorkItemCount"/> is a count, not a time: how long 500 items take depends on what
/// they are (a read completion or a grain call), and an operator sets a threshold in seconds. It is also summed over
/// every thread's local queue on each read.</item>
/// </list>
/// A queued probe is not waited for: while it waits, its age is the delay (<see cref="Delay"/>), so a pool that runs
/// nothing at all (every thread blocked, or the process stopped) shows its lag to the next admission that does run.
/// Likewise the timer that posts the probe fires through the pool: a post overdue by more than a period is lag too.
/// Cheap when healthy: one allocation-free work item and two timestamps per period; none while one still waits.
/// </remarks>
internal sealed class QueueDelayProbe : IThreadPoolWorkItem
{
    /// <summary>How often a probe is posted: fine enough that a storm is seen within a fraction of a second, coarse
    /// enough to cost nothing (ten work items a second).</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);

    private readonly TimeProvider _time;
    private readonly Action<IThreadPoolWorkItem> _queue;
    private readonly Lock _lock = new();
    private bool _posted;
    private bool _waiting;
    private long _postedAt;
    private TimeSpan _lastWait;

    public QueueDelayProbe(TimeProvider time)
        : this(time, QueueGlobally)
    {
    }

    /// <summary>A probe that hands its work item to <paramref name="queue"/> (tests run it themselves).</summary>
    internal QueueDelayProbe(TimeProvider time, Action<IThreadPoolWorkItem> queue)
    {
        _time = time;
        _queue = queue;
    }

    /// <summary>The thread-pool queue's delay as far as this moment shows it: the larger of the last probe's wait and
    /// how long the current one has waited so far (or, when none waits, how overdue the next post is).</summary>
    public TimeSpan Delay
    {
        get
        {
            var now = _time.GetTimestamp();
            lock (_lock)
            {
                if (!_posted) return TimeSpan.Zero;
                var sincePost = _time.GetElapsedTime(_postedAt, now);
                var pending = _waiting ? sincePost : sincePost - Period;
                return pending > _lastWait ? pending : _lastWait;
            }
        }
    }

    /// <summary>Posts a probe, unless the last one still waits (then its age already says how late the queue runs).</summary>
    public void Post()
    {
        lock (_lock)
        {
            if (_waiting) return;
            _postedAt = _time.GetTimestamp();
            _posted = _waiting = true;
        }
        _queue(this);
    }

    /// <summary>The probe's run: its wait since <see cref="Post"/> is the queue's delay.</summary>
    public void Execute()
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            _lastWait = _time.GetElapsedTime(_postedAt, now);
            _waiting = false;
        }
    }

    private static void QueueGlobally(IThreadPoolWorkItem item) => ThreadPool.UnsafeQueueUserWorkItem(item, preferLocal: false);
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Shared;

namespace Relay.Gateway.Connections;

/// <summary>
/// Whether this node refuses new WebSocket upgrades because it runs behind: from when the thread-pool queue's delay
/// (<see cref="QueueDelayProbe"/>) goes above <see cref="RelayOptions.ShedWhenLaggingAbove"/> until it has stayed at
/// or below half of it for <see cref="CalmFor"/>. A starved node that keeps admitting fills itself with registrations
/// it cannot keep: its reads fall behind their heartbeats, and stale timeouts and leases reap live peers (the
/// 100,000-peer cluster run stalled at 37,600 sockets so, bench/results/2026-12-04-scale-cluster-rules.md). Refused
/// with 503 and <c>Retry-After</c>, the storm slows to what the node serves. Open connections are not touched.
/// </summary>
/// <remarks>
/// The two levels are the hysteresis: a node that sheds sheds the load that made it late, so its delay drops at once,
/// and a node that admitted again at the threshold would flap with every refused burst. Evaluated at every upgrade
/// (<see cref="Refuses"/>: the queue as it is when the request is finally read) and once a probe period, when it also
/// posts the next probe. Logged once when shedding starts (event 1037) and once when it ends, with the count (1038).
/// </remarks>
internal sealed partial class LagShedding : PeriodicService
{
    /// <summary>How long the delay must stay at or below half the threshold before upgrades are admitted again: ten
    /// probes in a row, so that one lucky sample between two stalls does not open the door.</summary>
    public static readonly TimeSpan CalmFor = TimeSpan.FromSeconds(1);

    private readonly QueueDelayProbe _probe;
    private readonly ILogger<LagShedding> _logger;
    private readonly TimeSpan _threshold;
    private readonly Lock _lock = new();
    private volatile bool _shedding;
    private long _since;
    private bool _calm;
    private long _calmSince;
    private long _refused;

    public LagShedding(IOptions<RelayOptions> options, QueueDelayProbe probe, TimeProvider time, ILogger<LagShedding> logger)
        : base(QueueDelayProbe.Period, time)
    {
        _probe = probe;
        _logger = logger;
        _threshold = options.Value.ShedWhenLaggingAbove;
    }

    /// <summary>Off when <see cref="RelayOptions.ShedWhenLaggingAbove"/> is 0: no probe runs and nothing is refused.</summary>
    public bool Enabled => _threshold > TimeSpan.Zero;

    /// <summary>The delay above which upgrades are refused.</summary>
    public TimeSpan Threshold => _threshold;

    /// <summary>Whether upgrades are refused now (as of the last evaluation; readiness reports it).</summary>
    public bool IsShedding => _shedding;

    /// <summary>Whether a new upgrade is refused, decided with the queue's delay at this moment; a refusal is counted
    /// for the log line that ends the episode.</summary>
    public bool Refuses()
    {
        if (!Enabled) return false;
        Evaluate();
        if (!_shedding) return false;
        Interlocked.Increment(ref _refused);
        return true;
    }

    /// <summary>One probe period: decides with what the last probe saw (and how late this tick is), then posts the
    /// next probe.</summary>
    internal void Sample()
    {
        Evaluate();
        _probe.Post();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Enabled ? base.ExecuteAsync(stoppingToken) : Task.CompletedTask;

    protected override Task TickAsync()
    {
        Sample();
        return Task.CompletedTask;
    }

    private void Evaluate()
    {
        var delay = _probe.Delay;
        if (!_shedding && delay <= _threshold) return; // the healthy path takes no lock
        var now = Time.GetTimestamp();
        bool started;
        TimeSpan lasted;
        long refused;
        lock (_lock)
        {
            if (!_shedding)
            {
                if (delay <= _threshold) return;
                (_shedding, _since, _calm) = (true, now, false);
                Interlocked.Exchange(ref _refused, 0);
                (started, lasted, refused) = (true, TimeSpan.Zero, 0);
            }
            else if (delay > _threshold / 2)
            {
                _calm = false;
                return;
            }
            else if (!_calm)
            {
                (_calm, _calmSince) = (true, now);
                return;
            }
            else if (Time.GetElapsedTime(_calmSince, now) < CalmFor)
            {
                return;
            }
            else
            {
                _shedding = false;
                (started, lasted, refused) = (false, Time.GetElapsedTime(_since, now), Interlocked.Exchange(ref _refused, 0));
            }
        }
        if (started) Log.Started(_logger, delay.TotalMilliseconds, _threshold.TotalMilliseconds);
        else Log.Ended(_logger, lasted.TotalSeconds, refused, (_threshold / 2).TotalMilliseconds, CalmFor.TotalSeconds);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1037, Level = LogLevel.Warning, Message = "This node runs behind: work waits {DelayMs:F0} ms for a thread, more than Relay:ShedWhenLaggingAbove ({ThresholdMs:F0} ms); new WebSocket upgrades are refused with 503 until it catches up, open connections are unaffected")]
        public static partial void Started(ILogger logger, double delayMs, double thresholdMs);

        [LoggerMessage(EventId = 1038, Level = LogLevel.Information, Message = "This node has caught up: accepting WebSocket upgrades again after {Seconds:F1} s, {Refused} refused (work waited at most {CalmMs:F0} ms for {CalmSeconds:F0} s)")]
        public static partial void Ended(ILogger logger, double seconds, long refused, double calmMs, double calmSeconds);
    }
}

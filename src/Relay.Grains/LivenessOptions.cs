using System.ComponentModel.DataAnnotations;

namespace Relay.Grains;

/// <summary>
/// Liveness timings shared by gateways (which see every frame) and peer grains (the backstop that reaps
/// peers of a gateway that stopped reporting). Bound from the "Relay" configuration section, like the
/// gateway's own options, so one setting (e.g. <c>Relay:StaleTimeout</c>) drives both sides.
/// </summary>
public sealed class LivenessOptions : IValidatableObject
{
    public const string SectionName = "Relay";

    /// <summary>A peer silent this long is reaped: offline goes out, its socket stays open.</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "01:00:00")]
    public TimeSpan StaleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often gateways look for silent peers: offline goes out at most this long after the stale timeout.
    /// Peer grains reap when a lease runs out, not on this period; they use it only to retry a reminder that could
    /// not be registered.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan ReapCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a gateway reports the liveness of its connections to their peer grains.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan LivenessReportInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Period of the grain reminder that re-activates a peer grain whose activation was lost (silo
    /// failure), so peers of dead gateways are still reaped. Orleans refuses reminders under one minute unless
    /// <c>ReminderOptions.MinimumReminderPeriod</c> is lowered (tests do).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Whether peer grains hold leases on their connections: gateways renew them, grains persist them and keep a
    /// reminder, and a grain reaps the connections of a gateway that stopped reporting. That is what lets peers of a
    /// dead gateway go offline in a cluster. The single process turns it off (<see
    /// cref="LivenessServiceCollectionExtensions.UseSingleProcessLiveness"/>): its gateway, grains and in-memory
    /// reminders live and die together, so leases would cost a grain call per active peer every few seconds, a reminder
    /// and a timer per peer, and guard against nothing. Not bound from configuration: the topology decides it.
    /// </summary>
    public bool LeaseBackstop { get; internal set; } = true;

    /// <summary>
    /// When a grain gives up on a connection whose gateway stopped reporting: its last reported frame plus
    /// the stale timeout plus two report intervals, so a live gateway (which reaps at exactly the stale
    /// timeout) always acts first and the grain only cleans up after dead ones.
    /// </summary>
    public TimeSpan LeaseDuration => StaleTimeout + LivenessReportInterval + LivenessReportInterval;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ReapCheckInterval >= StaleTimeout)
        {
            yield return new ValidationResult("ReapCheckInterval must be shorter than StaleTimeout.", [nameof(ReapCheckInterval)]);
        }
        if (LivenessReportInterval >= StaleTimeout)
        {
            yield return new ValidationResult("LivenessReportInterval must be shorter than StaleTimeout.", [nameof(LivenessReportInterval)]);
        }
    }
}

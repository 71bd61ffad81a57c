using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Relay.Grains;

/// <summary>
/// Liveness timings shared by gateways (which see every frame) and peer grains (the backstop that reaps
/// peers of a gateway that stopped reporting). Bound from the "Relay" configuration section, like the
/// gateway's own options, so one setting (e.g. <c>Relay:StaleTimeout</c>) drives both sides.
/// </summary>
/// <remarks>
/// A class of its own, in this assembly rather than in the gateway's <c>RelayOptions</c>: silo-only nodes run the
/// peer grains, which need these timings, and bind no gateway options; and this assembly sits below the gateway, so
/// it cannot see <c>RelayOptions</c>. Moving the socket settings down here instead would put what only a gateway
/// uses into every silo. docs/configuration.md says the same; a test checks that the two classes never declare the
/// same key.
/// </remarks>
public sealed class LivenessOptions : IValidatableObject
{
    public const string SectionName = "Relay";

    [Description("a peer silent this long is reaped (offline goes out, the socket stays open); twice this is the pong timeout of a socket")]
    [Range(typeof(TimeSpan), "00:00:00.200", "01:00:00")]
    public TimeSpan StaleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    // Peer grains reap when a lease runs out, not on this period.
    [Description("how often gateways look for silent peers (offline at stale + up to this); peer grains retry a failed reminder registration on it; shorter than `StaleTimeout`")]
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan ReapCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    [Description("how often gateways renew peer grains' leases; shorter than `StaleTimeout`")]
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan LivenessReportInterval { get; set; } = TimeSpan.FromSeconds(2);

    // Orleans refuses reminders under one minute unless ReminderOptions.MinimumReminderPeriod is lowered, which the
    // silo does for a shorter period set here (tests use one).
    [Description("period of the grain reminder that re-activates a peer grain whose activation was lost (the backstop after a silo failure); below 1 min lowers Orleans' minimum")]
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    // Kept by the peer grain (the cluster's truth about an id), so it holds across gateways; a silo-only node needs it.
    [Description("after a peer id's last connection left, how long it stays bound to the principal that held it (another principal gets `peer_id_taken`), so a silent tab reaped at the stale timeout keeps its id; 0: released at once")]
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan PeerIdGracePeriod { get; set; } = TimeSpan.FromMinutes(5);

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

    /// <summary>
    /// How long a gateway may go without a heartbeat (<c>IGatewayGrain.Heartbeat</c>, once per report interval) before
    /// peer grains count it gone: three report intervals. A lease runs out when its gateway's renewals stop, which is
    /// what a dead gateway looks like, and also what a live one looks like when it is too busy to report on time. So a
    /// grain reaps on an expired lease only when the gateway has also stopped its heartbeats; a dead gateway's last
    /// heartbeat is at most this old when its peers' leases run out (they end 34 s after a frame the gateway read at
    /// most 30 s before it died), so they still go offline within 34-38 s of their last frame (the grain asks again
    /// once per report interval).
    /// </summary>
    public TimeSpan GatewaySilence => LivenessReportInterval * 3;

    /// <summary>
    /// The longest a grain holds an expired lease of a gateway that still sends heartbeats: the lease plus a stale
    /// timeout. A live gateway reaps its own silent peers at the stale timeout (later by at most one more while the
    /// node itself runs behind), so a lease still unrenewed after this belongs to a connection its gateway lost track
    /// of, and the grain reaps it.
    /// </summary>
    public TimeSpan LeaseHoldLimit => LeaseDuration + StaleTimeout;

    /// <summary>
    /// How far the lease a peer grain persists may lag behind the one it holds in memory: a renewal is written once its
    /// last frame is this much newer than the last write (for a peer sending every few seconds, about every second
    /// report; one sending every 10 s, each). A grain re-activated after its silo died (its gateway gone too, so nobody
    /// renews) adds it to every lease it loaded: the real last frame is less than this plus one report interval after
    /// the written one, so the grain reaps 32-36 s after it (stale timeout + 2 report intervals, + this).
    /// </summary>
    public TimeSpan LeaseWriteInterval => LivenessReportInterval;

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

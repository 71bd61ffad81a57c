using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Relay.Gateway.Configuration;

/// <summary>
/// Everything a relay operator can tune, bound from the "Relay" configuration section
/// (appsettings.json, environment variables such as <c>Relay__StaleTimeout</c>, or <c>--Relay:StaleTimeout</c>).
/// Validated at start-up: a relay with nonsensical limits refuses to start instead of misbehaving later.
/// The section's liveness timings (<c>StaleTimeout</c> and its kin) are <see cref="Relay.Grains.LivenessOptions"/>, bound
/// by silo-only nodes too, which hold the peer grains but no sockets (see its remarks).
/// </summary>
public sealed class RelayOptions : IValidatableObject
{
    public const string SectionName = "Relay";

    [Description("mesh of clients that give no `?mesh=`")]
    [Required, MaxLength(128)]
    public string DefaultMesh { get; set; } = "default";

    [Description("serve plain WebSocket upgrades below ASP.NET Core, so that an open socket keeps nothing of Kestrel's HTTP/1.1 request (about 6 KB a peer); off: every upgrade goes through ASP.NET Core's WebSocket middleware")]
    public bool DirectHandshake { get; set; } = true;

    [Description("WebSocket ping period; a socket that answers no pong within 2 × `StaleTimeout` is aborted")]
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(10);

    [Description("largest frame a client may send; a larger one closes the connection with 1009")]
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    [Description("bytes that may wait for one socket before frames for it are dropped (the client is told `dropped`); at least `MaxFrameBytes`")]
    [Range(4096, 1024 * 1024 * 1024)]
    public int SendQueueBytes { get; set; } = 4 * 1024 * 1024;

    [Description("sustained frames/s per connection (excess: dropped, error `rate_limited`)")]
    [Range(1, 1_000_000)]
    public double RateLimitPerSecond { get; set; } = 200;

    [Description("frames per connection in a burst above the sustained rate; at least `RateLimitPerSecond`")]
    [Range(1, 1_000_000)]
    public int RateLimitBurst { get; set; } = 1000;

    // Counted in bytes, not frames: at the frame rate alone, 1 MiB frames let one sender push 200 MiB/s into every
    // receiver of its mesh. The default burst lets a few maximum-size frames through at once, and equals the default
    // SendQueueBytes, so a burst fits one receiver's queue.
    [Description("sustained bytes/s of frames per connection (excess: dropped, error `byte_rate_limited`)")]
    [Range(1024, int.MaxValue)]
    public int ByteRateLimitPerSecond { get; set; } = 1024 * 1024;

    [Description("bytes per connection in a burst above the sustained byte rate; at least `MaxFrameBytes` and `ByteRateLimitPerSecond`")]
    [Range(1024, int.MaxValue)]
    public int ByteRateLimitBurst { get; set; } = 4 * 1024 * 1024;

    [Description("relay error frames per connection and second, then one `errors_suppressed` summary")]
    [Range(0.1, 1000)]
    public double ErrorsPerSecond { get; set; } = 2;

    [Description("burst of relay error frames per connection")]
    [Range(1, 1000)]
    public int ErrorBurst { get; set; } = 5;

    [Description("types whose echo (same type and data delivered to the same connection within `EchoWindow`) is dropped; empty list: echo suppression off")]
    public string[] EchoSuppressedTypes { get; set; } = ["invoke", "broadcast", "ring-update"];

    [Description("origins (`https://app.example`, `null`) whose pages may open a WebSocket; an upgrade with an unlisted `Origin` gets 403, one without `Origin` is let in; empty list: any origin (with auth off, any web page a browser visits can then join)")]
    public string[] AllowedOrigins { get; set; } = [];

    [Description("how long a delivered frame is remembered for echo suppression (0 turns it off)")]
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan EchoWindow { get; set; } = TimeSpan.FromSeconds(10);

    [Description("longest peer id")]
    [Range(1, 4096)]
    public int MaxPeerIdLength { get; set; } = 256;

    // Real clients list 2-3 agents. Without a cap, 64 KiB of metadata lists about 6,800, and every capabilities
    // answer, direct lookup and roster entry grows with them.
    [Description("agents of one connection's presence (`data.agents`) used for direct addressing and `activeAgents`; beyond it the rest is ignored, the presence is still accepted and forwarded whole, and its sender gets error `too_many_agents`")]
    [Range(1, 100_000)]
    public int MaxAgentsPerPeer { get; set; } = 64;

    [Description("largest presence `data` (larger: error `metadata_too_large`, neither stored nor forwarded)")]
    [Range(256, 16 * 1024 * 1024)]
    public int MaxMetadataBytes { get; set; } = 64 * 1024;

    // The cap is ConnectionBudget's: a socket beyond the open-file limit would fail in the accept loop instead.
    [Description("open WebSockets per node (more: HTTP 503 with `Retry-After`); unset: the open-file limit less 1,024, which also caps a value set here")]
    [Range(1, 10_000_000)]
    public int? MaxConnections { get; set; }

    [Description("open WebSockets per client address and node (more: HTTP 503 with `Retry-After`), so that no one client takes a node, a mesh or the mesh table; at most `MaxConnections`")]
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerAddress { get; set; } = 256;

    // Every connect and close of a registered client costs each other peer of its mesh a presence and an offline:
    // churn from one address must not become a flood for everybody else.
    [Description("sustained WebSocket upgrades per second from one client address to one node (more: HTTP 429 with `Retry-After`)")]
    [Range(0.01, 1_000_000)]
    public double ConnectsPerSecondPerAddress { get; set; } = 10;

    [Description("upgrades from one client address in a burst above `ConnectsPerSecondPerAddress`; at least that rate")]
    [Range(1, 1_000_000)]
    public int ConnectBurstPerAddress { get; set; } = 100;

    // A node starved of CPU that keeps admitting fills itself with registrations it cannot keep: its reads fall behind
    // its peers' heartbeats and live peers are reaped (bench/results/2026-12-04-scale-cluster-rules.md). A second is far
    // above what a healthy node's queue waits (microseconds) and a usual GC pause, and far below the stale timeout.
    [Description("refuse new WebSocket upgrades (HTTP 503 with `Retry-After`) while work waits longer than this for a thread of this node (its thread-pool queue, probed every 100 ms), until it has waited at most half of it for 1 s; open connections are unaffected; at least 0.1 s; 0: never")]
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShedWhenLaggingAbove { get; set; } = TimeSpan.FromSeconds(1);

    [Description("meshes one node serves at once (a new one beyond: HTTP 503 with `Retry-After`, or close 1013 after first-frame auth)")]
    [Range(1, 10_000_000)]
    public int MaxMeshes { get; set; } = 1_000;

    [Description("meshes the open WebSockets of one client address may be in, per node (a new one beyond: HTTP 503 with `Retry-After`, or close 1013 after first-frame auth), so that no one client fills `MaxMeshes`")]
    [Range(1, 10_000_000)]
    public int MaxMeshesPerAddress { get; set; } = 64;

    [Description("auth on: meshes the open WebSockets of one principal may be in, per node (a new one beyond: HTTP 503 with `Retry-After`, or close 1013 after first-frame auth)")]
    [Range(1, 10_000_000)]
    public int MaxMeshesPerPrincipal { get; set; } = 32;

    [Description("a WebSocket that has registered no peer (a presence) this long after it opened is closed with 1008; a presence the relay refused (`mesh_full`, `peer_id_taken`, `unavailable`) starts it again; 0: never")]
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RegistrationTimeout { get; set; } = TimeSpan.FromSeconds(15);

    [Description("peer ids per mesh as this node sees it, other gateways' peers included (a new one beyond: error `mesh_full`)")]
    [Range(1, 10_000_000)]
    public int MaxPeersPerMesh { get; set; } = 1_000;

    [Description("`Retry-After` of an upgrade refused for a limit, while draining or while the node runs behind (`ShedWhenLaggingAbove`)")]
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    [Description("on shutdown, the 1012 closes are spread evenly over this window (0: all at once), so reconnects do not hit the other nodes in one burst; plus 10 s must fit the host's shutdown timeout")]
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The smallest non-zero <see cref="ShedWhenLaggingAbove"/>: the lag probe's period.</summary>
    public static readonly TimeSpan MinimumShedLag = TimeSpan.FromMilliseconds(100);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AllowedOrigins.FirstOrDefault(origin => !Configuration.AllowedOrigins.IsValidEntry(origin)) is { } badOrigin)
        {
            yield return new ValidationResult($"AllowedOrigins: '{badOrigin}' is not an origin (scheme://host[:port], or null).", [nameof(AllowedOrigins)]);
        }
        if (SendQueueBytes < MaxFrameBytes)
        {
            yield return new ValidationResult("SendQueueBytes must hold at least one frame of MaxFrameBytes.",
                [nameof(SendQueueBytes), nameof(MaxFrameBytes)]);
        }
        if (RateLimitBurst < RateLimitPerSecond)
        {
            yield return new ValidationResult("RateLimitBurst must be at least RateLimitPerSecond.", [nameof(RateLimitBurst)]);
        }
        if (ByteRateLimitBurst < MaxFrameBytes || ByteRateLimitBurst < ByteRateLimitPerSecond)
        {
            yield return new ValidationResult("ByteRateLimitBurst must be at least MaxFrameBytes and ByteRateLimitPerSecond.",
                [nameof(ByteRateLimitBurst), nameof(MaxFrameBytes)]);
        }
        if (ConnectBurstPerAddress < ConnectsPerSecondPerAddress)
        {
            yield return new ValidationResult("ConnectBurstPerAddress must be at least ConnectsPerSecondPerAddress.", [nameof(ConnectBurstPerAddress)]);
        }
        if (MaxConnections is { } max && MaxConnectionsPerAddress > max)
        {
            yield return new ValidationResult("MaxConnectionsPerAddress must not exceed MaxConnections.", [nameof(MaxConnectionsPerAddress)]);
        }
        if (ShedWhenLaggingAbove > TimeSpan.Zero && ShedWhenLaggingAbove < MinimumShedLag)
        {
            yield return new ValidationResult("ShedWhenLaggingAbove must be 0 (off) or at least 00:00:00.100: below the lag probe's period, timer jitter and ordinary GC pauses would refuse upgrades.",
                [nameof(ShedWhenLaggingAbove)]);
        }
        if (EchoSuppressedTypes.Any(string.IsNullOrWhiteSpace))
        {
            yield return new ValidationResult("EchoSuppressedTypes must not contain empty types.", [nameof(EchoSuppressedTypes)]);
        }
    }
}

using System.ComponentModel.DataAnnotations;

namespace Relay.Gateway.Configuration;

/// <summary>
/// Everything a relay operator can tune, bound from the "Relay" configuration section
/// (appsettings.json, environment variables such as <c>Relay__StaleTimeout</c>, or <c>--Relay:StaleTimeout</c>).
/// Validated at start-up: a relay with nonsensical limits refuses to start instead of misbehaving later.
/// </summary>
public sealed class RelayOptions : IValidatableObject
{
    public const string SectionName = "Relay";

    /// <summary>Mesh used when a client gives no <c>?mesh=</c>.</summary>
    [Required, MaxLength(128)]
    public string DefaultMesh { get; set; } = "default";

    /// <summary>WebSocket ping period. A connection that answers neither frames nor pongs for
    /// the stale timeout after a ping is dead and is closed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest accepted frame; a larger one closes the connection with 1009.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>Bytes that may wait in one connection's send queue before frames for it are dropped.</summary>
    [Range(4096, 1024 * 1024 * 1024)]
    public int SendQueueBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Sustained frames per second one connection may send.</summary>
    [Range(1, 1_000_000)]
    public double RateLimitPerSecond { get; set; } = 200;

    /// <summary>Frames one connection may send in a burst above the sustained rate.</summary>
    [Range(1, 1_000_000)]
    public int RateLimitBurst { get; set; } = 1000;

    /// <summary>Relay error frames one connection may receive per second (then one summary).</summary>
    [Range(0.1, 1000)]
    public double ErrorsPerSecond { get; set; } = 2;

    /// <summary>Relay error frames one connection may receive in a burst.</summary>
    [Range(1, 1000)]
    public int ErrorBurst { get; set; } = 5;

    /// <summary>Frame types whose echo (same type and data delivered to the same connection within
    /// <see cref="EchoWindow"/>) is dropped. Empty turns echo suppression off.</summary>
    public string[] EchoSuppressedTypes { get; set; } = ["invoke", "broadcast", "ring-update"];

    /// <summary>How long a delivered frame is remembered for echo suppression.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan EchoWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest accepted peer id.</summary>
    [Range(1, 4096)]
    public int MaxPeerIdLength { get; set; } = 256;

    /// <summary>Largest presence <c>data</c> (metadata) kept for a peer; larger presence is refused with an error.</summary>
    [Range(256, 16 * 1024 * 1024)]
    public int MaxMetadataBytes { get; set; } = 64 * 1024;

    /// <summary>Open WebSockets this node holds at most; further upgrades get HTTP 503 with Retry-After. Unset: what the
    /// process's open-file limit allows (<c>RLIMIT_NOFILE</c> less 1,024 descriptors kept aside), which also caps a value
    /// set here (<see cref="Connections.ConnectionBudget"/>).</summary>
    [Range(1, 10_000_000)]
    public int? MaxConnections { get; set; }

    /// <summary>Open WebSockets one client address may hold on this node, so that no single client can take the
    /// node's whole <see cref="MaxConnections"/> (nor, with the defaults, a whole mesh or the mesh table).</summary>
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerAddress { get; set; } = 256;

    /// <summary>Meshes this node serves at once (meshes with an open connection here); an upgrade that would open
    /// one more gets HTTP 503 with Retry-After.</summary>
    [Range(1, 10_000_000)]
    public int MaxMeshes { get; set; } = 1_000;

    /// <summary>Peer ids one mesh may hold (as this node sees the mesh, other gateways' peers included); a presence
    /// that would register one more is refused with error <c>mesh_full</c>.</summary>
    [Range(1, 10_000_000)]
    public int MaxPeersPerMesh { get; set; } = 1_000;

    /// <summary>What an upgrade refused for a limit (or while draining) is told to wait in <c>Retry-After</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>On shutdown, the 1012 closes are spread evenly over this window (0: all at once), so that the
    /// clients' reconnects do not hit the other nodes in one burst. With the close handshakes it must fit the
    /// host's shutdown timeout (checked at start-up).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainWindow { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SendQueueBytes < MaxFrameBytes)
        {
            yield return new ValidationResult("SendQueueBytes must hold at least one frame of MaxFrameBytes.",
                [nameof(SendQueueBytes), nameof(MaxFrameBytes)]);
        }
        if (RateLimitBurst < RateLimitPerSecond)
        {
            yield return new ValidationResult("RateLimitBurst must be at least RateLimitPerSecond.", [nameof(RateLimitBurst)]);
        }
        if (MaxConnections is { } max && MaxConnectionsPerAddress > max)
        {
            yield return new ValidationResult("MaxConnectionsPerAddress must not exceed MaxConnections.", [nameof(MaxConnectionsPerAddress)]);
        }
        if (EchoSuppressedTypes.Any(string.IsNullOrWhiteSpace))
        {
            yield return new ValidationResult("EchoSuppressedTypes must not contain empty types.", [nameof(EchoSuppressedTypes)]);
        }
    }
}

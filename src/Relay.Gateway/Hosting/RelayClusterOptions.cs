using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Relay.Gateway.Hosting;

/// <summary>What a node of the relay is.</summary>
public enum RelayRole
{
    /// <summary>Orleans silo and WebSocket gateway in one process (<c>Relay.Silo</c>, the default).</summary>
    Combined,

    /// <summary>Orleans silo only (<c>Relay.Silo</c>): no WebSocket endpoints, just <c>/ping</c> and <c>/healthz</c>.</summary>
    Silo,

    /// <summary>WebSocket gateway only: an Orleans client holding sockets. Run by <c>Relay.Gateway</c>, which is
    /// always this role; <c>Relay.Silo</c> refuses it.</summary>
    Gateway,
}

/// <summary>
/// How this process joins the Orleans cluster (section "Cluster"; environment variables such as
/// <c>Cluster__Redis</c>). One model for every role: <c>Relay.Silo</c> (combined or silo-only) and
/// <c>Relay.Gateway</c> read the same keys. The defaults run a single silo on loopback with embedded, in-memory
/// providers: no external service.
/// </summary>
public sealed class RelayClusterOptions : IValidatableObject
{
    public const string SectionName = "Cluster";

    /// <summary>What this process runs (<see cref="RelayRole"/>).</summary>
    public RelayRole Role { get; set; } = RelayRole.Combined;

    /// <summary>StackExchange.Redis connection string (e.g. <c>127.0.0.1:6379</c>) of the store that holds
    /// membership, reminders and grain state. Empty: embedded in-memory providers and localhost clustering
    /// (one silo; a gateway-only node then connects to <c>127.0.0.1:GatewayPort</c>).</summary>
    [MaxLength(4096)]
    public string? Redis { get; set; }

    /// <summary>Address other silos and clients reach this silo at (with Redis): an IP address, or a host name
    /// resolved at start (containers give their service name). A loopback address is also the one the silo
    /// binds; any other address makes the silo listen on all interfaces.</summary>
    [Required, MaxLength(255)]
    public string AdvertisedIPAddress { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients (gateway-only nodes) connect to.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    [Required, MaxLength(128)]
    public string ClusterId { get; set; } = "relay";

    [Required, MaxLength(128)]
    public string ServiceId { get; set; } = "relay";

    /// <summary>Failure detection: how long a silo waits for a probe's answer. Unset: Orleans' default (5 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>Failure detection: missed probes after which a silo suspects another. Unset: Orleans' default (3).</summary>
    [Range(1, 100)]
    public int? NumMissedProbesLimit { get; set; }

    /// <summary>Failure detection: suspicions (votes) that declare a silo dead. Unset: Orleans' default (2).</summary>
    [Range(1, 100)]
    public int? NumVotesForDeathDeclaration { get; set; }

    /// <summary>How long a grain call or stream delivery waits for its answer (Orleans' <c>ResponseTimeout</c>,
    /// 30 s by default). Every call the relay makes is short; what waits this long is a message sent to a silo that
    /// just died and is not yet declared dead, and each such wait stalls a stream queue or a gateway's link. Must
    /// stay well above the slowest healthy call (a Redis write under load).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a gateway-only node keeps trying to reach the cluster at start (silos may start after it)
    /// before it gives up and exits.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>True when membership, reminders and grain state live in Redis.</summary>
    public bool UsesRedis => !string.IsNullOrWhiteSpace(Redis);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SiloPort == GatewayPort)
        {
            yield return new ValidationResult("SiloPort and GatewayPort must differ.", [nameof(SiloPort), nameof(GatewayPort)]);
        }
        if (!Enum.IsDefined(Role))
        {
            yield return new ValidationResult("Role must be Combined, Silo or Gateway.", [nameof(Role)]);
        }
        if (!IPAddress.TryParse(AdvertisedIPAddress, out _) && Uri.CheckHostName(AdvertisedIPAddress) != UriHostNameType.Dns)
        {
            yield return new ValidationResult("AdvertisedIPAddress must be an IP address or a host name.", [nameof(AdvertisedIPAddress)]);
        }
    }
}

using System.ComponentModel;
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

    [Description("`Relay.Silo`: `Combined` (silo + gateway) or `Silo` (no WebSockets); `Relay.Gateway` is always `Gateway`")]
    public RelayRole Role { get; set; } = RelayRole.Combined;

    [Description("StackExchange.Redis connection string (`127.0.0.1:6379`) of the store for membership, reminders and grain state; unset: embedded providers, localhost clustering")]
    [MaxLength(4096)]
    public string? Redis { get; set; }

    [Description("address a silo advertises (IP or host name, resolved at start); non-loopback: listens on all interfaces")]
    [Required, MaxLength(255)]
    public string AdvertisedIPAddress { get; set; } = "127.0.0.1";

    [Description("silo-to-silo port")]
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Description("port Orleans clients (gateway-only nodes) connect to; a gateway-only node without Redis connects to `127.0.0.1:GatewayPort`")]
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    [Description("Orleans cluster id (Redis keys start with it)")]
    [Required, MaxLength(128)]
    public string ClusterId { get; set; } = "relay";

    [Description("Orleans service id")]
    [Required, MaxLength(128)]
    public string ServiceId { get; set; } = "relay";

    [Description("failure detection: probe answer timeout; unset: Orleans' `00:00:05`")]
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan? ProbeTimeout { get; set; }

    [Description("failure detection: missed probes before a silo suspects another; unset: Orleans' `3`")]
    [Range(1, 100)]
    public int? NumMissedProbesLimit { get; set; }

    [Description("failure detection: suspicions that declare a silo dead; unset: Orleans' `2`")]
    [Range(1, 100)]
    public int? NumVotesForDeathDeclaration { get; set; }

    // Each such wait stalls a stream queue or a gateway's link.
    [Description("how long a grain call or stream delivery waits for its answer (Orleans' `ResponseTimeout`, 30 s by default); what waits this long is a message to a silo that died and is not yet declared dead; keep it well above the slowest healthy call (a Redis write under load)")]
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Description("how long a gateway-only node retries reaching the cluster at start (silos may start after it), then exits")]
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

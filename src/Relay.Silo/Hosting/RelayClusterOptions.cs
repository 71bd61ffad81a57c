using System.ComponentModel.DataAnnotations;

namespace Relay.Silo.Hosting;

/// <summary>How this process joins the Orleans cluster (section "Cluster"). The defaults run a single silo on
/// loopback with embedded, in-memory providers: no external service.</summary>
public sealed class RelayClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>Silo-to-silo port.</summary>
    [Range(0, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients (gateway-only nodes) connect to.</summary>
    [Range(0, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Localhost clustering only: the silo port of the primary silo this one joins (0: this silo is the
    /// primary). Lets several silos run on one machine without a membership store.</summary>
    [Range(0, 65535)]
    public int PrimarySiloPort { get; set; }

    [Required]
    public string ClusterId { get; set; } = "relay";

    [Required]
    public string ServiceId { get; set; } = "relay";
}

using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The live dashboard (<c>GET /dashboard</c>, and <c>GET /</c> when it is not a WebSocket upgrade), bound from
/// "Relay:Dashboard". It shows peer ids and their presence metadata, so with authentication on it is off unless
/// switched on explicitly, and then it needs a valid token like <c>/invocations</c>.
/// </summary>
public sealed class DashboardOptions : IValidatableObject
{
    public const string SectionName = "Relay:Dashboard";

    [Description("the live dashboard at `/dashboard` (and `GET /`); unset: on unless auth is on; `true` with auth on: served to valid tokens only (a mesh claim sees its mesh); `false`: 404")]
    public bool? Enabled { get; set; }

    [Description("how often an open dashboard is updated")]
    [Range(typeof(TimeSpan), "00:00:00.200", "00:01:00")]
    public TimeSpan UpdateInterval { get; set; } = TimeSpan.FromSeconds(1);

    // Each open dashboard costs a serialised view per update.
    [Description("dashboard streams open at once on one node; a newer viewer ends the oldest stream of the address holding the most")]
    [Range(1, 1000)]
    public int MaxViewers { get; set; } = 16;

    [Description("dashboard streams open at once from one client address; a newer one ends that address's oldest")]
    [Range(1, 1000)]
    public int MaxViewersPerAddress { get; set; } = 8;

    [Description("further `Host` names the dashboard answers to (`*`: any), besides IP addresses, `localhost` and the host names of the listen URLs; others get 403 (against DNS rebinding)")]
    public string[] AllowedHosts { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AllowedHosts.FirstOrDefault(host => string.IsNullOrWhiteSpace(host) || host.IndexOfAny([':', '/', ' ', '\t']) >= 0 && !host.StartsWith('[')) is { } bad)
        {
            yield return new ValidationResult($"AllowedHosts: '{bad}' is not a host name (no scheme, port or path).", [nameof(AllowedHosts)]);
        }
    }
}

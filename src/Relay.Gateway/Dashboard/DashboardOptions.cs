using System.ComponentModel.DataAnnotations;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The live dashboard (<c>GET /dashboard</c>, and <c>GET /</c> when it is not a WebSocket upgrade), bound from
/// "Relay:Dashboard". It shows peer ids and their presence metadata, so with authentication on it is off unless
/// switched on explicitly, and then it needs a valid token like <c>/invocations</c>.
/// </summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Relay:Dashboard";

    /// <summary>Unset: on when authentication is off, off when it is on. True: on (with auth on, a valid token is
    /// required, and a token with a mesh claim sees only its mesh). False: off (404).</summary>
    public bool? Enabled { get; set; }

    /// <summary>How often an open dashboard receives a fresh view of the node.</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "00:01:00")]
    public TimeSpan UpdateInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Dashboards that may be open at once on this node (more get 503: each costs a serialised view per
    /// update).</summary>
    [Range(1, 1000)]
    public int MaxViewers { get; set; } = 16;
}

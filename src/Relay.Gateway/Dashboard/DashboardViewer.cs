namespace Relay.Gateway.Dashboard;

/// <summary>Who may look: everybody (auth off), or the holder of a valid token, limited to the token's mesh when it
/// carries a mesh claim, until the token expires.</summary>
internal sealed record DashboardViewer(string? Mesh, DateTimeOffset? Until)
{
    public static readonly DashboardViewer Anyone = new(null, null);
}

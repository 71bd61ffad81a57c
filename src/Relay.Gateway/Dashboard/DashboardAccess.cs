using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Relay.Gateway.Authentication;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// Whether the dashboard is served, and to whom. It lists peer ids and their metadata, so with authentication on it
/// is off unless <c>Relay:Dashboard:Enabled=true</c>, and then every request needs a valid token (header, or
/// <c>?access_token=</c> as browsers must); a token with a mesh claim sees only its mesh.
/// </summary>
internal sealed class DashboardAccess(IOptions<DashboardOptions> options, DashboardHosts hosts, TokenValidator tokens)
{
    public bool Enabled => options.Value.Enabled ?? !tokens.Enabled;

    /// <summary>The viewer the request is allowed to be, or null when it was refused (the answer is written: 404 when
    /// the dashboard is off, 403 for a <c>Host</c> it does not answer to (<see cref="DashboardHosts"/>), 401/503 for a
    /// missing or refused token).</summary>
    public async Task<DashboardViewer?> AdmitAsync(HttpContext context)
    {
        if (!Enabled)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return null;
        }
        if (!hosts.Allows(context.Request.Host))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Relay dashboard: unknown Host; add it to Relay:Dashboard:AllowedHosts.");
            return null;
        }
        if (!tokens.Enabled) return DashboardViewer.Anyone;
        if (BearerToken.FromRequest(context.Request) is not { } token)
        {
            await HttpChallenge.MissingAsync(context);
            return null;
        }
        var check = await tokens.ValidateAsync(token, context.RequestAborted);
        if (check.Status != TokenStatus.Valid)
        {
            await HttpChallenge.RefusedAsync(context, check);
            return null;
        }
        var principal = check.Principal!;
        return new DashboardViewer(principal.Mesh, principal.ExpiresAt + tokens.Options.ClockSkew);
    }
}

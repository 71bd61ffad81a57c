using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Relay.Gateway.Dashboard;

/// <summary>Maps <c>GET /dashboard</c> (the page) and <c>GET /dashboard/events</c> (its live updates); <c>GET /</c>
/// shows the page too when it is not a WebSocket upgrade (see <see cref="Endpoints.RelayEndpoints"/>).</summary>
public static class DashboardEndpoints
{
    public const string PagePath = "/dashboard";
    public const string EventsPath = "/dashboard/events";

    public static IEndpointRouteBuilder MapRelayDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(PagePath, ServePageAsync);
        endpoints.MapGet(EventsPath, async (HttpContext context, DashboardAccess access, DashboardEvents events) =>
        {
            if (await access.AdmitAsync(context) is { } viewer) await events.StreamAsync(context, viewer);
        });
        return endpoints;
    }

    /// <summary>Whether <c>GET /</c> (without an upgrade) shows the page.</summary>
    internal static bool ServesRoot(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method) && context.RequestServices.GetRequiredService<DashboardAccess>().Enabled;

    internal static async Task ServePageAsync(HttpContext context)
    {
        if (await context.RequestServices.GetRequiredService<DashboardAccess>().AdmitAsync(context) is not null)
        {
            await DashboardPage.WriteAsync(context);
        }
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Dashboard;
using Relay.Gateway.Shared;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Endpoints;

/// <summary>The relay's HTTP surface on one port: the WebSocket at <c>/ws</c> and <c>/</c>, the dashboard
/// (<c>/dashboard</c>, and <c>GET /</c> without an upgrade), <c>GET /ping</c>
/// (AgentCore health contract, always open) and <c>POST /invocations</c> (relay.py's status entrypoint; with auth on it
/// needs a valid token like a WebSocket, and a token's mesh claim names the mesh it may list).</summary>
public static class RelayEndpoints
{
    public static IEndpointRouteBuilder MapRelay(this IEndpointRouteBuilder endpoints)
    {
        var handler = endpoints.ServiceProvider.GetRequiredService<RelayWebSocketHandler>();
        endpoints.Map("/ws", handler.HandleAsync);
        // "/" is the WebSocket too (relay.py's path); a browser asking for it gets the dashboard when that is on.
        endpoints.Map("/", context => context.WebSockets.IsWebSocketRequest || !DashboardEndpoints.ServesRoot(context)
            ? handler.HandleAsync(context)
            : DashboardEndpoints.ServePageAsync(context));
        endpoints.MapRelayDashboard();

        endpoints.MapPing();

        endpoints.MapPost("/invocations", async (HttpContext context, IGrainFactory grains, IOptions<RelayOptions> options, TokenValidator tokens) =>
        {
            var requested = QueryParameter.First(context.Request.QueryString, "mesh");
            var mesh = requested ?? options.Value.DefaultMesh;
            if (!GrainKeys.IsValidMesh(mesh))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            if (tokens.Enabled)
            {
                if (BearerToken.FromRequest(context.Request) is not { } token)
                {
                    await HttpChallenge.MissingAsync(context);
                    return;
                }
                var check = await tokens.ValidateAsync(token, context.RequestAborted);
                if (check.Status != TokenStatus.Valid)
                {
                    await HttpChallenge.RefusedAsync(context, check);
                    return;
                }
                if (!check.Principal!.TryChooseMesh(requested, options.Value.DefaultMesh, out mesh))
                {
                    await HttpChallenge.OtherMeshAsync(context);
                    return;
                }
            }
            var roster = await grains.GetGrain<IMeshGrain>(mesh).GetRoster();
            var peers = roster.Select(entry => entry.PeerId).Order(StringComparer.Ordinal).ToArray();
            await context.Response.WriteAsJsonAsync(new InvocationsResponse("ok", peers, peers.Length), RelayJsonContext.Default.InvocationsResponse);
        });
        return endpoints;
    }

    /// <summary><c>GET /ping</c> alone (silo-only nodes answer it too).</summary>
    public static IEndpointRouteBuilder MapPing(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ping", (TimeProvider time, IServiceProvider services) =>
        {
            // Silo-only nodes have no gateway and so never drain sockets.
            var draining = services.GetService<Connections.DrainState>()?.IsDraining == true;
            return TypedResults.Json(new PingResponse(draining ? "HealthyBusy" : "Healthy", time.GetUtcNow().ToUnixTimeSeconds()),
                RelayJsonContext.Default.PingResponse);
        });
        return endpoints;
    }
}

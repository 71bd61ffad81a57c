using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Endpoints;

/// <summary>The relay's HTTP surface on one port: the WebSocket at <c>/ws</c> and <c>/</c>, <c>GET /ping</c>
/// (AgentCore health contract) and <c>POST /invocations</c> (relay.py's status entrypoint).</summary>
public static class RelayEndpoints
{
    public static IEndpointRouteBuilder MapRelay(this IEndpointRouteBuilder endpoints)
    {
        var handler = endpoints.ServiceProvider.GetRequiredService<RelayWebSocketHandler>();
        endpoints.Map("/ws", handler.HandleAsync);
        endpoints.Map("/", handler.HandleAsync);

        endpoints.MapPing();

        endpoints.MapPost("/invocations", async (HttpRequest request, IGrainFactory grains, IOptions<RelayOptions> options) =>
        {
            var mesh = request.Query["mesh"].FirstOrDefault() ?? options.Value.DefaultMesh;
            if (!GrainKeys.IsValidMesh(mesh)) return Results.BadRequest();
            var roster = await grains.GetGrain<IMeshGrain>(mesh).GetRoster();
            var peers = roster.Select(entry => entry.PeerId).Order(StringComparer.Ordinal).ToArray();
            return TypedResults.Json(new InvocationsResponse("ok", peers, peers.Length), RelayJsonContext.Default.InvocationsResponse);
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

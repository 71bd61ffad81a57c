using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using Relay.Gateway.Diagnostics;

namespace Relay.Gateway.Hosting;

/// <summary>OpenTelemetry metrics of every node that serves HTTP, scraped by Prometheus at <c>/metrics</c>: the
/// relay's meter, Orleans' and ASP.NET Core's (hosting, Kestrel), and the runtime's (GC heap and pauses, working set,
/// thread pool), so that memory and GC can be watched over time (bench/soak.sh does).</summary>
public static class RelayTelemetry
{
    public const string MetricsPath = "/metrics";

    /// <summary>The meters exported.</summary>
    public static readonly IReadOnlyList<string> Meters =
    [
        RelayMetrics.MeterName,
        "Microsoft.Orleans",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
    ];

    private sealed class Marker;

    /// <summary>Registers the OpenTelemetry meter provider with the Prometheus exporter (idempotent).</summary>
    public static IServiceCollection AddRelayTelemetry(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(Marker))) return services;
        services.AddSingleton<Marker>();
        services.AddMetrics();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter([.. Meters]).AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format).</summary>
    public static IEndpointRouteBuilder MapRelayMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
        return endpoints;
    }
}

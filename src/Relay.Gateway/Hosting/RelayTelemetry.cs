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

    /// <summary>
    /// Tag combinations kept per metric stream. OpenTelemetry allocates every stream's points up front for its limit
    /// (2,000 by default): 27 MB of an idle relay's 60 MB of live objects. Every tag exported takes values from a small
    /// set (the relay's frame kinds, error codes and reasons; ASP.NET Core's routes, methods and status codes; Orleans'
    /// grain types), so 256 is ample; past it, OpenTelemetry folds the rest into one overflow series.
    /// </summary>
    public const int MaxTagCombinations = 256;

    private sealed class Marker;

    /// <summary>Registers the OpenTelemetry meter provider with the Prometheus exporter (idempotent).</summary>
    public static IServiceCollection AddRelayTelemetry(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(Marker))) return services;
        services.AddSingleton<Marker>();
        services.AddMetrics();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter([.. Meters])
            .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = MaxTagCombinations })
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format).</summary>
    public static IEndpointRouteBuilder MapRelayMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
        return endpoints;
    }
}

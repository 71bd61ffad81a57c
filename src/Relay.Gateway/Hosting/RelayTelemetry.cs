using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Relay.Gateway.Diagnostics;

namespace Relay.Gateway.Hosting;

/// <summary>
/// OpenTelemetry of every node that serves HTTP. Metrics are always scraped by Prometheus at <c>/metrics</c>: the
/// relay's meter, Orleans' and ASP.NET Core's (hosting, Kestrel), and the runtime's (GC heap and pauses, working set,
/// thread pool), so that memory and GC can be watched over time (bench/soak.sh does). When
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the convention of .NET Aspire's service defaults; the SDK's other
/// <c>OTEL_*</c> variables apply), the same metrics, the relay's and Orleans' grain-call spans and the logs are
/// exported over OTLP as well. Without it no tracer is registered, so no span is ever created.
/// </summary>
public static class RelayTelemetry
{
    public const string MetricsPath = "/metrics";

    /// <summary>The setting that turns OTLP export on: the collector's base URL.</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters exported.</summary>
    public static readonly IReadOnlyList<string> Meters =
    [
        RelayMetrics.MeterName,
        "Microsoft.Orleans",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
    ];

    /// <summary>The activity sources traced with OTLP: the relay's own, and Orleans' spans for calls to the relay's
    /// grains (with the propagation that <c>AddActivityPropagation</c> turns on, a trace follows a presence into the
    /// silo). Orleans' runtime source is left out: its stream pulling agents alone call a queue grain 80 times a
    /// second per silo.</summary>
    public static readonly IReadOnlyList<string> Sources =
    [
        RelayActivities.SourceName,
        "Microsoft.Orleans.Application",
    ];

    /// <summary>
    /// Tag combinations kept per metric stream. OpenTelemetry allocates every stream's points up front for its limit
    /// (2,000 by default): 27 MB of an idle relay's 60 MB of live objects. Every tag exported takes values from a small
    /// set (the relay's frame kinds, error codes and reasons; ASP.NET Core's routes, methods and status codes; Orleans'
    /// grain types), so 256 is ample; past it, OpenTelemetry folds the rest into one overflow series.
    /// </summary>
    public const int MaxTagCombinations = 256;

    private sealed class Marker;

    /// <summary>Registers the OpenTelemetry meter provider with the Prometheus exporter and, when
    /// <see cref="OtlpEndpointSetting"/> is set in <paramref name="configuration"/>, OTLP export of metrics, traces and
    /// logs (idempotent).</summary>
    public static IServiceCollection AddRelayTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(Marker))) return services;
        services.AddSingleton<Marker>();
        services.AddMetrics();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                // The node's own defaults first, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them.
                .Clear()
                .AddDetector(sp => new RelayResourceDetector(sp))
                .AddTelemetrySdk()
                .AddEnvironmentVariableDetector())
            .WithMetrics(metrics => metrics
                .AddMeter([.. Meters])
                .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = MaxTagCombinations })
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(configuration[OtlpEndpointSetting]))
        {
            telemetry
                .WithTracing(tracing => tracing.AddSource([.. Sources]))
                .WithLogging(configureBuilder: null, options =>
                {
                    options.IncludeFormattedMessage = true;
                    options.IncludeScopes = true;
                })
                .UseOtlpExporter();
        }
        return services;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format).</summary>
    public static IEndpointRouteBuilder MapRelayMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
        return endpoints;
    }
}

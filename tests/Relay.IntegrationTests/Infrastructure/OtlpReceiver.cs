using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>One span as it arrived, with the resource (the process) and scope (the ActivitySource) it came under.</summary>
internal sealed record ReceivedSpan(Resource Resource, string Scope, Span Span)
{
    public string Service => Resource.Attribute("service.name");

    public string Instance => Resource.Attribute("service.instance.id");

    public string? Tag(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value.Text();
}

internal sealed record ReceivedMetric(Resource Resource, string Scope, Metric Metric)
{
    public string Service => Resource.Attribute("service.name");
}

internal sealed record ReceivedLog(Resource Resource, string Scope, LogRecord Log)
{
    public string Service => Resource.Attribute("service.name");
}

/// <summary>
/// An OTLP collector in the test process: Kestrel on a free loopback port taking HTTP/protobuf export requests
/// (<c>/v1/traces</c>, <c>/v1/metrics</c>, <c>/v1/logs</c>), decoded with the protocol's own messages, and keeping
/// what arrived. Point nodes at <see cref="Endpoint"/> with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> and
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf</c>; <see cref="WaitForAsync{T}"/> waits for what a test expects,
/// woken by each arrival, within a bound.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<ReceivedSpan> _spans = [];
    private readonly List<ReceivedMetric> _metrics = [];
    private readonly List<ReceivedLog> _logs = [];
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private OtlpReceiver(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>The base URL, e.g. http://127.0.0.1:41234 (the exporters add <c>/v1/traces</c> and the others).</summary>
    public Uri Endpoint { get; }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        OtlpReceiver? receiver = null;
        app.MapPost("/v1/traces", context => Export(context, ExportTraceServiceRequest.Parser, new ExportTraceServiceResponse(), receiver!.Add));
        app.MapPost("/v1/metrics", context => Export(context, ExportMetricsServiceRequest.Parser, new ExportMetricsServiceResponse(), receiver!.Add));
        app.MapPost("/v1/logs", context => Export(context, ExportLogsServiceRequest.Parser, new ExportLogsServiceResponse(), receiver!.Add));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver = new OtlpReceiver(app, new Uri(address.TrimEnd('/')));
        return receiver;
    }

    /// <summary>The settings that send a node's telemetry here, exported every <paramref name="interval"/> (spans and
    /// logs in batches that wait at most that long, metrics at that period), as environment variables.</summary>
    public string[] NodeSettings(TimeSpan interval)
    {
        var milliseconds = ((int)interval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return
        [
            $"OTEL_EXPORTER_OTLP_ENDPOINT={Endpoint}",
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            $"OTEL_BSP_SCHEDULE_DELAY={milliseconds}",
            $"OTEL_BLRP_SCHEDULE_DELAY={milliseconds}",
            $"OTEL_METRIC_EXPORT_INTERVAL={milliseconds}",
        ];
    }

    public IReadOnlyList<ReceivedSpan> Spans
    {
        get { lock (_lock) return [.. _spans]; }
    }

    public IReadOnlyList<ReceivedMetric> Metrics
    {
        get { lock (_lock) return [.. _metrics]; }
    }

    public IReadOnlyList<ReceivedLog> Logs
    {
        get { lock (_lock) return [.. _logs]; }
    }

    /// <summary>Checks <paramref name="find"/> on what has arrived, again at each arrival, until it finds something;
    /// fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public async Task<T> WaitForAsync<T>(Func<OtlpReceiver, T?> find, TimeSpan timeout, string what) where T : class
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task arrived;
            lock (_lock) arrived = _arrived.Task;
            if (find(this) is { } found) return found;
            try
            {
                await arrived.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"OTLP: no {what} within {timeout} ({Summary()})");
            }
        }
    }

    /// <summary>What arrived, for failure messages: span names and metric names by service.</summary>
    public string Summary()
    {
        var spans = Spans.GroupBy(s => s.Service).Select(g => $"{g.Key}: {string.Join(", ", g.Select(s => s.Span.Name).Distinct())}");
        var metrics = Metrics.GroupBy(m => m.Service).Select(g => $"{g.Key}: {g.Select(m => m.Metric.Name).Distinct().Count()} metrics");
        return $"spans [{string.Join("; ", spans)}], metrics [{string.Join("; ", metrics)}], {Logs.Count} log records";
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }

    private static async Task Export<TRequest>(HttpContext context, MessageParser<TRequest> parser, IMessage response, Action<TRequest> add)
        where TRequest : IMessage<TRequest>
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        add(parser.ParseFrom(body.ToArray()));
        context.Response.ContentType = "application/x-protobuf";
        await context.Response.Body.WriteAsync(response.ToByteArray(), context.RequestAborted);
    }

    private void Add(ExportTraceServiceRequest request) => Arrived(() =>
        _spans.AddRange(request.ResourceSpans.SelectMany(r => r.ScopeSpans.SelectMany(s => s.Spans.Select(span => new ReceivedSpan(r.Resource, s.Scope?.Name ?? "", span))))));

    private void Add(ExportMetricsServiceRequest request) => Arrived(() =>
        _metrics.AddRange(request.ResourceMetrics.SelectMany(r => r.ScopeMetrics.SelectMany(s => s.Metrics.Select(metric => new ReceivedMetric(r.Resource, s.Scope?.Name ?? "", metric))))));

    private void Add(ExportLogsServiceRequest request) => Arrived(() =>
        _logs.AddRange(request.ResourceLogs.SelectMany(r => r.ScopeLogs.SelectMany(s => s.LogRecords.Select(log => new ReceivedLog(r.Resource, s.Scope?.Name ?? "", log))))));

    private void Arrived(Action add)
    {
        TaskCompletionSource woken;
        lock (_lock)
        {
            add();
            woken = _arrived;
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        woken.TrySetResult();
    }
}

internal static class OtlpValues
{
    /// <summary>A resource attribute's text ("" when absent).</summary>
    public static string Attribute(this Resource resource, string key) =>
        resource.Attributes.FirstOrDefault(a => a.Key == key)?.Value.Text() ?? "";

    /// <summary>An attribute value as text: strings as they are, numbers in invariant form.</summary>
    public static string Text(this AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>The sum of a counter's data points (as exported: cumulative by default).</summary>
    public static long SumOfPoints(this Metric metric) => metric.DataCase == Metric.DataOneofCase.Sum
        ? metric.Sum.DataPoints.Sum(p => p.AsInt)
        : 0;
}

using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Operations;

/// <summary>Issue 7: OpenTelemetry metrics, scraped by Prometheus at <c>/metrics</c>.</summary>
public sealed class MetricsTests : EndToEndTest
{
    [Fact]
    public async Task Metrics_endpoint_serves_relay_metrics_in_Prometheus_text_format()
    {
        await StartRelayAsync();
        var sender = await JoinAsync();
        var receiver = await JoinAsync();
        await sender.SendAsync(new { type = "broadcast", data = new { hello = 1 } });
        await receiver.WaitForAsync(f => Frame.IsType(f, "broadcast"));

        // The exporter caches a scrape briefly: ask again (bounded) until the frames show.
        var text = await ScrapeUntilAsync(t =>
            PrometheusText.Sum(t, "relay_frames_received_total") > 0
            && PrometheusText.Sum(t, "relay_frames_sent_total") > 0
            && PrometheusText.Sum(t, "relay_connections") >= 2
            && PrometheusText.Sum(t, "relay_peers") >= 2);
        Assert.NotNull(PrometheusText.Sum(text, "relay_bytes_received_bytes_total") ?? PrometheusText.Sum(text, "relay_bytes_received_total"));
        Assert.NotNull(PrometheusText.Sum(text, "relay_send_queue_bytes") ?? PrometheusText.Sum(text, "relay_send_queue_bytes_bytes"));
        Assert.Contains("# TYPE relay_frames_received_total counter", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_include_ASP_NET_Core_and_Orleans_meters()
    {
        await StartRelayAsync();
        using (await Relay.Http.GetAsync(new Uri("ping", UriKind.Relative))) { }
        var text = await ScrapeUntilAsync(t =>
            t.Contains("http_server_request_duration", StringComparison.Ordinal)
            && t.Contains("kestrel_", StringComparison.Ordinal)
            && t.Contains("orleans_", StringComparison.Ordinal));
        Assert.Contains("otel_scope_name=\"Microsoft.Orleans\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delivery_latency_is_a_histogram_of_routed_frames_in_seconds()
    {
        await StartRelayAsync();
        // Other relays of this test process export a meter of the same name: count this relay's own measurements.
        using var deliveries = new DeliveryRecorder(Relay.Services.GetRequiredService<IMeterFactory>());
        var sender = await JoinAsync();
        var receiver = await JoinAsync();
        for (var i = 0; i < 3; i++) await sender.SendAsync(new { type = "broadcast", data = new { n = i } });
        await sender.SendAsync(new { type = "direct", to = receiver.Id, data = new { n = 3 } });
        await receiver.WaitForAsync(f => Frame.IsType(f, "direct"));

        // Presences and snapshots were written before these (one writer per socket, in order), and are the relay's
        // own frames: only the four routed ones count.
        var latencies = await deliveries.WaitForAsync(4, TestPeer.DefaultTimeout);
        Assert.Equal(4, latencies.Count);
        Assert.All(latencies, l => Assert.InRange(l, double.Epsilon, TestPeer.DefaultTimeout.TotalSeconds));

        var text = await ScrapeUntilAsync(t => PrometheusText.Sum(t, "relay_delivery_duration_seconds_count") >= 4);
        Assert.Contains("# TYPE relay_delivery_duration_seconds histogram", text, StringComparison.Ordinal);
        // Buckets fit seconds (sub-millisecond ones included), not the SDK's default millisecond-sized ones.
        var bounds = text.Split('\n')
            .Where(l => l.StartsWith("relay_delivery_duration_seconds_bucket", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("le=\"", StringComparison.Ordinal) + 4)..])
            .Select(l => l[..l.IndexOf('"', StringComparison.Ordinal)])
            .ToHashSet();
        Assert.Contains("0.001", bounds);
        Assert.DoesNotContain("750", bounds);
        Assert.Equal(RelayMetrics.DeliveryBuckets.Count + 1, bounds.Count);
    }

    /// <summary>The <c>relay.delivery.duration</c> measurements of one relay (its own meter factory's instrument).</summary>
    private sealed class DeliveryRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _values = [];

        public DeliveryRecorder(IMeterFactory meters)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == "relay.delivery.duration") listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => { lock (_values) _values.Add(value); });
            _listener.Start();
        }

        public async Task<List<double>> WaitForAsync(int count, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < timeout)
            {
                lock (_values) if (_values.Count >= count) return [.. _values];
                await Task.Delay(20);
            }
            lock (_values) throw new TimeoutException($"{_values.Count} of {count} deliveries measured");
        }

        public void Dispose() => _listener.Dispose();
    }

    private async Task<string> ScrapeUntilAsync(Func<string, bool> condition)
    {
        var watch = Stopwatch.StartNew();
        var text = "";
        while (watch.Elapsed < TestPeer.DefaultTimeout)
        {
            using var response = await Relay.Http.GetAsync(new Uri("metrics", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            text = await response.Content.ReadAsStringAsync();
            if (condition(text)) return text;
            await Task.Delay(100);
        }
        throw new TimeoutException("/metrics never showed what was expected:\n" + text);
    }
}

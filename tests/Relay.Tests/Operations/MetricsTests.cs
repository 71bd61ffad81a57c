using System.Diagnostics;
using System.Net;
using Relay.Tests.EndToEnd;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Operations;

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

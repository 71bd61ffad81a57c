using System.Diagnostics;
using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Relay.IntegrationTests.Cluster;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Operations;

/// <summary>
/// Issue 16: with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, every node of a process cluster (one silo, two gateway-only
/// nodes, started by <c>scripts/cluster.sh</c>) exports traces, metrics and logs over OTLP (HTTP/protobuf) to a
/// receiver in this test process. A direct between peers on the two gateways leaves one span for its batch on each
/// gateway, the receiving one a child of and linked to the sending one; a registration's grain calls carry its trace
/// into the silo.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class OpenTelemetryTests
{
    private static readonly TimeSpan ExportInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_cross_node_direct_leaves_linked_batch_spans_on_both_gateways_and_every_node_exports_metrics_and_logs()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync(1, 2, otlp.NodeSettings(ExportInterval));
        var mesh = "m" + Guid.NewGuid().ToString("N")[..12];
        // a's client is traced itself: its upgrade continues the client's trace.
        var client = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        await using var a = await TestPeer.ConnectAsync(new Uri(cluster.Gateways[0], $"?mesh={mesh}"), TestPeer.NewId("a"), startReading: true,
            options => options.SetRequestHeader("traceparent", $"00-{client.TraceId}-{client.SpanId}-01"));
        await a.RegisterAsync();
        await using var b = await TestPeer.ConnectAsync(new Uri(cluster.Gateways[1], $"?mesh={mesh}"), TestPeer.NewId("b"));
        await b.RegisterAsync();
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        var directSent = UnixNanoseconds(DateTimeOffset.UtcNow);
        await a.SendAsync(new { type = "direct", to = b.Id, data = new { traced = 1 } });
        await b.WaitForAsync(f => Frame.IsType(f, "direct") && Frame.Sender(f) == a.Id);

        // Each peer's registration names its gateway (the span's service.instance.id is the gateway's id).
        var registerA = await otlp.WaitForAsync(o => Registration(o, a.Id), Arrival, $"registration span of {a.Id}");
        var registerB = await otlp.WaitForAsync(o => Registration(o, b.Id), Arrival, $"registration span of {b.Id}");
        Assert.Equal("relay-gateway", registerA.Service);
        Assert.NotEqual(registerA.Instance, registerB.Instance);

        // The batch that carried the direct: sent by a's gateway to b's after the direct left the test, and applied
        // on b's gateway in a span of the same trace, parented by and linked to the sending span.
        var (send, receive) = await otlp.WaitForAsync(o => LinkedBatch(o, registerA.Instance, registerB.Instance, directSent), Arrival,
            "linked relay.link.send / relay.link.receive spans after the direct");
        Assert.Equal(Span.Types.SpanKind.Producer, send.Span.Kind);
        Assert.Equal(Span.Types.SpanKind.Consumer, receive.Span.Kind);
        Assert.Equal(send.Span.TraceId, receive.Span.TraceId);
        Assert.Equal(send.Span.SpanId, receive.Span.ParentSpanId);
        Assert.Contains(receive.Span.Links, l => l.TraceId == send.Span.TraceId && l.SpanId == send.Span.SpanId);
        Assert.Equal(registerA.Instance, receive.Tag("relay.link.source"));

        // The upgrades have spans: a's in its client's trace, b's (no traceparent) a root.
        var upgradeA = await otlp.WaitForAsync(o => Upgrade(o, registerA), Arrival, "upgrade span of a");
        Assert.Equal(Hex(client.TraceId.ToString()), upgradeA.Span.TraceId);
        Assert.Equal(Hex(client.SpanId.ToString()), upgradeA.Span.ParentSpanId);
        Assert.Equal(mesh, upgradeA.Tag("relay.mesh"));
        var upgradeB = await otlp.WaitForAsync(o => Upgrade(o, registerB), Arrival, "upgrade span of b");
        Assert.True(upgradeB.Span.ParentSpanId.IsEmpty);

        // A registration's grain calls are its children (Orleans' activity propagation), answered on the silo within
        // the same trace.
        var grainCall = await otlp.WaitForAsync(o => o.Spans.FirstOrDefault(s =>
            s.Scope == "Microsoft.Orleans.Application" && s.Span.ParentSpanId == registerA.Span.SpanId), Arrival,
            "Orleans span of a grain call under the registration");
        Assert.Equal(registerA.Span.TraceId, grainCall.Span.TraceId);
        await otlp.WaitForAsync(o => o.Spans.FirstOrDefault(s => s.Service == "relay-silo" && s.Span.TraceId == registerA.Span.TraceId), Arrival,
            "silo span in the registration's trace");

        // Metrics and logs from both executables.
        var batches = await otlp.WaitForAsync(o => o.Metrics.FirstOrDefault(m =>
            m.Service == "relay-gateway" && m.Metric.Name == "relay.cluster.batches.sent" && m.Metric.SumOfPoints() > 0), Arrival,
            "relay.cluster.batches.sent from a gateway");
        Assert.Equal("Relay", batches.Scope);
        await otlp.WaitForAsync(o => o.Metrics.FirstOrDefault(m => m.Service == "relay-silo" && m.Scope == "Microsoft.Orleans"), Arrival,
            "Orleans metrics from the silo");
        foreach (var service in (string[])["relay-gateway", "relay-silo"])
        {
            await otlp.WaitForAsync(o => o.Logs.FirstOrDefault(l =>
                l.Service == service && l.Log.Body.StringValue.Contains("Relay node ready", StringComparison.Ordinal)), Arrival,
                $"start-up log record of {service}");
        }
    }

    private static ReceivedSpan? Registration(OtlpReceiver otlp, string peerId) =>
        otlp.Spans.FirstOrDefault(s => s.Span.Name == "relay.presence.register" && s.Tag("relay.peer.id") == peerId);

    /// <summary>The upgrade of the connection that <paramref name="registration"/> registered.</summary>
    private static ReceivedSpan? Upgrade(OtlpReceiver otlp, ReceivedSpan registration) =>
        otlp.Spans.FirstOrDefault(s => s.Span.Name == "relay.upgrade" && s.Instance == registration.Instance
            && s.Tag("relay.connection.id") == registration.Tag("relay.connection.id"));

    private static ByteString Hex(string hex) => ByteString.CopyFrom(Convert.FromHexString(hex));

    private static Tuple<ReceivedSpan, ReceivedSpan>? LinkedBatch(OtlpReceiver otlp, string from, string to, ulong after)
    {
        var spans = otlp.Spans;
        foreach (var send in spans.Where(s => s.Span.Name == "relay.link.send" && s.Instance == from
                     && s.Tag("relay.link.destination") == to && s.Span.StartTimeUnixNano >= after))
        {
            var receive = spans.FirstOrDefault(s => s.Span.Name == "relay.link.receive" && s.Instance == to
                && s.Span.Links.Any(l => l.SpanId == send.Span.SpanId));
            if (receive is not null) return Tuple.Create(send, receive);
        }
        return null;
    }

    private static ulong UnixNanoseconds(DateTimeOffset time) => (ulong)(time - DateTimeOffset.UnixEpoch).Ticks * 100;
}

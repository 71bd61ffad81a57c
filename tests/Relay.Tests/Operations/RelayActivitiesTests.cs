using System.Diagnostics;
using Relay.Gateway.Diagnostics;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>
/// Issue 16: the relay's spans cost nothing while nobody listens to the "Relay" source (the state of every node
/// without an OTLP endpoint), and with a listener a batch's receiving span continues the sending span's trace from the
/// traceparent the batch carries. The tests of this class run one after the other, and no other test listens to the
/// source, so the first one sees no listener.
/// </summary>
public sealed class RelayActivitiesTests
{
    private static long AllocatedBy(Action action)
    {
        action();
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Without_a_listener_no_span_is_started_and_nothing_is_allocated()
    {
        Assert.False(RelayActivities.Source.HasListeners());
        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        var allocated = AllocatedBy(() =>
        {
            using var send = RelayActivities.StartLinkSend("gw-a", "gw-b", 7, 12);
            Assert.Null(send);
            Assert.Null(RelayActivities.TraceParentOf(send));
            using var receive = RelayActivities.StartLinkReceive(traceParent, "gw-a", 7, 12);
            Assert.Null(receive);
            using var upgrade = RelayActivities.StartUpgrade(traceParent, null);
            Assert.Null(upgrade);
            using var presence = RelayActivities.StartPresence(registering: true, "mesh", "peer", 1);
            Assert.Null(presence);
            RelayActivities.Failed(presence, "unavailable");
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_received_batch_continues_the_senders_trace_and_links_to_its_span()
    {
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RelayActivities.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        string? traceParent;
        ActivityContext sender;
        using (var send = RelayActivities.StartLinkSend("gw-a", "gw-b", 7, 12))
        {
            Assert.NotNull(send);
            Assert.Null(send.Parent);
            Assert.Equal(ActivityKind.Producer, send.Kind);
            traceParent = RelayActivities.TraceParentOf(send);
            sender = send.Context;
        }
        Assert.Equal($"00-{sender.TraceId}-{sender.SpanId}-01", traceParent);

        using (var receive = RelayActivities.StartLinkReceive(traceParent, "gw-a", 7, 12))
        {
            Assert.NotNull(receive);
            Assert.Equal(ActivityKind.Consumer, receive.Kind);
            Assert.Equal(sender.TraceId, receive.TraceId);
            Assert.Equal(sender.SpanId, receive.ParentSpanId);
            var link = Assert.Single(receive.Links);
            Assert.Equal((sender.TraceId, sender.SpanId), (link.Context.TraceId, link.Context.SpanId));
            Assert.Equal("gw-a", receive.GetTagItem("relay.link.source"));
        }

        // A batch from a sender that did not trace it still has its span here, a root without links.
        using (var untraced = RelayActivities.StartLinkReceive(traceParent: null, "gw-a", 8, 1))
        {
            Assert.NotNull(untraced);
            Assert.Null(untraced.ParentId);
            Assert.Empty(untraced.Links);
        }
        Assert.Equal([RelayActivities.LinkSend, RelayActivities.LinkReceive, RelayActivities.LinkReceive], stopped.Select(a => a.OperationName));
    }
}

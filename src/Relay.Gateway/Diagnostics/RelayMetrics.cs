using System.Diagnostics.Metrics;
using Relay.Protocol;

namespace Relay.Gateway.Diagnostics;

/// <summary>
/// The relay's instruments (meter "Relay"). Tags are bounded sets (frame kinds, error codes, close reasons),
/// never peer ids or mesh names a client chooses.
/// </summary>
internal sealed class RelayMetrics
{
    public const string MeterName = "Relay";

    private readonly Counter<long> _framesIn;
    private readonly Counter<long> _bytesIn;
    private readonly Counter<long> _framesOut;
    private readonly Counter<long> _bytesOut;
    private readonly Counter<long> _routed;
    private readonly Counter<long> _echoSuppressed;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _disconnects;
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _reaped;
    private readonly Counter<long> _reapsDeferred;
    private readonly Counter<double> _schedulingLag;
    private readonly Counter<long> _linkSent;
    private readonly Counter<long> _linkBatches;
    private readonly Counter<long> _linkReceived;
    private readonly Counter<long> _linkDropped;
    private readonly Counter<long> _linkLost;
    private readonly Counter<long> _linkDuplicates;
    private readonly Counter<long> _authenticated;
    private readonly Counter<long> _authRefused;
    private readonly Counter<long> _leasesExpired;
    private readonly Counter<long> _refused;
    private readonly Histogram<double> _deliveryLatency;

    public RelayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _framesIn = meter.CreateCounter<long>("relay.frames.received", "{frame}", "Frames received from clients");
        _bytesIn = meter.CreateCounter<long>("relay.bytes.received", "By", "Bytes of frames received from clients");
        _framesOut = meter.CreateCounter<long>("relay.frames.sent", "{frame}", "Frames written to client sockets");
        _bytesOut = meter.CreateCounter<long>("relay.bytes.sent", "By", "Bytes of frames written to client sockets");
        _routed = meter.CreateCounter<long>("relay.frames.routed", "{frame}", "Client frames forwarded, by routing kind");
        _echoSuppressed = meter.CreateCounter<long>("relay.frames.echo_suppressed", "{frame}", "Echoed frames dropped by echo suppression");
        _rateLimited = meter.CreateCounter<long>("relay.frames.rate_limited", "{frame}", "Frames dropped by the per-connection rate limit");
        _errors = meter.CreateCounter<long>("relay.errors", "{error}", "Relay error frames, by code (counted before the error rate limit)");
        _disconnects = meter.CreateCounter<long>("relay.disconnects", "{connection}", "Connections closed, by reason");
        _reaped = meter.CreateCounter<long>("relay.connections.reaped", "{connection}", "Connections unregistered after the stale timeout (socket kept open)");
        _reapsDeferred = meter.CreateCounter<long>("relay.connections.reaps_deferred", "{connection}",
            "Reaps a sweep held because this node ran behind its schedule since the connection's last frame (once per connection per sweep)");
        _schedulingLag = meter.CreateCounter<double>("relay.scheduling.lag", "s",
            "How late this node's connection sweeps started, beyond a tolerance of 250 ms each, added up (socket reads wait in the same queue)");
        _linkSent = meter.CreateCounter<long>("relay.cluster.items.sent", "{item}", "Frames and membership changes sent to other gateways");
        _linkBatches = meter.CreateCounter<long>("relay.cluster.batches.sent", "{batch}", "Link batches delivered to other gateways (items sent / batches sent is the mean batch size)");
        _linkReceived = meter.CreateCounter<long>("relay.cluster.items.received", "{item}", "Frames and membership changes received from other gateways");
        _linkDropped = meter.CreateCounter<long>("relay.cluster.items.undelivered", "{item}", "Items for other gateways that could not be delivered (reported to their senders)");
        _linkLost = meter.CreateCounter<long>("relay.cluster.batches.lost", "{batch}", "Batches from other gateways that never arrived (sequence gaps)");
        _linkDuplicates = meter.CreateCounter<long>("relay.cluster.batches.duplicate", "{batch}", "Batches from other gateways that arrived again, or after being counted lost (ignored)");
        _authenticated = meter.CreateCounter<long>("relay.auth.accepted", "{token}", "Tokens accepted, by where they came from (upgrade, first_frame, refresh)");
        _authRefused = meter.CreateCounter<long>("relay.auth.refused", "{token}", "Tokens or connections refused by authentication, by stage and reason");
        _leasesExpired = meter.CreateCounter<long>("relay.cluster.leases_expired", "{connection}",
            "Connections whose lease ran out on their peer grain (their gateway died, or drained and handed them over), as announced to this gateway");
        _refused = meter.CreateCounter<long>("relay.connections.refused", "{connection}",
            "WebSocket upgrades refused with HTTP 503 (or, after first-frame auth, closed with 1013), by reason");
        _connections = meter.CreateUpDownCounter<long>("relay.connections", "{connection}", "Open WebSocket connections");
        _deliveryLatency = meter.CreateHistogram("relay.delivery.duration", "s",
            "Time from a client frame received (or, from another gateway, its batch arrived) to its write to a recipient socket",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DeliveryBuckets });
    }

    /// <summary>Delivery latency buckets (seconds): a loopback hop takes tens of microseconds, a slow consumer's frame
    /// may wait seconds in its queue.</summary>
    public static readonly IReadOnlyList<double> DeliveryBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>A routed client frame was written to a recipient socket, <paramref name="latency"/> after it was received.</summary>
    public void Delivered(TimeSpan latency) => _deliveryLatency.Record(latency.TotalSeconds);

    public void FrameReceived(int bytes)
    {
        _framesIn.Add(1);
        _bytesIn.Add(bytes);
    }

    /// <summary><paramref name="frames"/> frames of <paramref name="bytes"/> bytes in all were written to a client socket
    /// (by its connection's writer, which adds them up over a run of writes: see <see cref="SentTally"/>).</summary>
    public void FramesSent(long frames, long bytes)
    {
        _framesOut.Add(frames);
        _bytesOut.Add(bytes);
    }

    public void Routed(FrameKind kind) => _routed.Add(1, new KeyValuePair<string, object?>("kind", kind == FrameKind.Direct ? "direct" : "broadcast"));

    public void EchoSuppressed() => _echoSuppressed.Add(1);

    public void RateLimited() => _rateLimited.Add(1);

    public void Error(string code) => _errors.Add(1, new KeyValuePair<string, object?>("code", code));

    public void Connected() => _connections.Add(1);

    public void Disconnected(string reason) => _disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Reaped() => _reaped.Add(1);

    /// <summary>A sweep held <paramref name="connections"/> reaps because of this node's own lag.</summary>
    public void ReapsDeferred(int connections) => _reapsDeferred.Add(connections);

    /// <summary>A sweep started <paramref name="late"/> later than its schedule, beyond the tolerance.</summary>
    public void SchedulingLag(TimeSpan late) => _schedulingLag.Add(late.TotalSeconds);

    public void LinkSent(int items)
    {
        _linkSent.Add(items);
        _linkBatches.Add(1);
    }

    public void LinkReceived(int items) => _linkReceived.Add(items);

    public void LinkDropped(int items) => _linkDropped.Add(items);

    public void LinkLost(long batches) => _linkLost.Add(batches);

    public void LinkDuplicate() => _linkDuplicates.Add(1);

    public void Closed() => _connections.Add(-1);

    /// <summary>A peer grain's reap of <paramref name="connections"/> connections was applied here.</summary>
    public void LeasesExpired(int connections) => _leasesExpired.Add(connections);

    /// <summary>An upgrade was refused: <paramref name="reason"/> is one of <c>node_limit</c>, <c>address_limit</c>,
    /// <c>mesh_limit</c>, <c>draining</c>, <c>lagging</c>, ...</summary>
    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A token was accepted at <paramref name="stage"/> (upgrade, first_frame, refresh).</summary>
    public void Authenticated(string stage) => _authenticated.Add(1, new KeyValuePair<string, object?>("stage", stage));

    /// <summary>Authentication refused something at <paramref name="stage"/>; <paramref name="reason"/> is one of the
    /// fixed texts of the token validator (or timeout, expired, ...), never client data.</summary>
    public void AuthRefused(string stage, string reason) =>
        _authRefused.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("reason", reason));
}

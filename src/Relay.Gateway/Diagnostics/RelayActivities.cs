using System.Diagnostics;

namespace Relay.Gateway.Diagnostics;

/// <summary>
/// The relay's spans (ActivitySource "Relay"): a WebSocket upgrade, a presence that calls the peer grain
/// (registration, or new metadata), and one span per cross-node batch on each side of a link, the receiving one linked
/// to the sending one. None per frame: a batch span stands for every frame it carries.
/// Every method returns null at once, allocating nothing, when nobody listens to the source (no tracer provider
/// subscribed to it: the relay subscribes one only when an OTLP endpoint is configured), so callers only pay for a
/// null check; tags are set only on spans that record them.
/// </summary>
internal static class RelayActivities
{
    public const string SourceName = "Relay";

    public const string Upgrade = "relay.upgrade";
    public const string Register = "relay.presence.register";
    public const string UpdatePresence = "relay.presence.update";
    public const string LinkSend = "relay.link.send";
    public const string LinkReceive = "relay.link.receive";

    public static readonly ActivitySource Source = new(SourceName, RelayVersion.Value);

    /// <summary>
    /// From the upgrade request to an accepted (and, with first-frame auth, authenticated) socket. Its parent is the
    /// client's <c>traceparent</c> (<paramref name="traceParent"/>, <paramref name="traceState"/>: the request's
    /// headers), when it sent one. ASP.NET Core gives a request no activity of its own here (the relay turns off the
    /// category whose logging would make it create one, in <c>RelayHostDefaults</c>); should one be current
    /// anyway, it is no parent to keep: created for its log scopes, unsampled (so a parent-based sampler would drop
    /// every span under it), and lasting as long as the socket. It stops being current, so the connection later runs
    /// without an ambient span: each of its presences is a trace of its own.
    /// </summary>
    public static Activity? StartUpgrade(string? traceParent, string? traceState)
    {
        if (!Source.HasListeners()) return null;
        Activity.Current = null;
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var caller);
        return Source.StartActivity(Upgrade, ActivityKind.Server, caller);
    }

    /// <summary>A presence that calls the peer grain: the connection's first (<paramref name="registering"/>), which
    /// opens the mesh and registers it, or a later one with new metadata. The grain calls are its children (Orleans'
    /// activity propagation).</summary>
    public static Activity? StartPresence(bool registering, string mesh, string peerId, long connectionId)
    {
        if (!Source.HasListeners()) return null;
        var activity = Source.StartActivity(registering ? Register : UpdatePresence, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("relay.mesh", mesh);
            activity.SetTag("relay.peer.id", peerId);
            activity.SetTag("relay.connection.id", connectionId);
        }
        return activity;
    }

    /// <summary>One batch of a link, from its send to its delivery (retries included) or to giving up. The caller runs
    /// without an ambient span, so this is a root span: a batch carries frames of many connections, none of which is
    /// its one cause.</summary>
    public static Activity? StartLinkSend(string source, string destination, long sequence, int items)
    {
        if (!Source.HasListeners()) return null;
        var activity = Source.StartActivity(LinkSend, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("relay.link.source", source);
            activity.SetTag("relay.link.destination", destination);
            activity.SetTag("relay.link.sequence", sequence);
            activity.SetTag("relay.link.items", items);
        }
        return activity;
    }

    /// <summary>What a span ended in, when it did not succeed: <paramref name="outcome"/> is one of a small fixed set
    /// (<c>node_limit</c>, <c>unavailable</c>, <c>undelivered</c>, ...), never client data.</summary>
    public static void Failed(Activity? activity, string outcome)
    {
        if (activity is null) return;
        activity.SetTag("relay.outcome", outcome);
        activity.SetStatus(ActivityStatusCode.Error, outcome);
    }

    /// <summary>The W3C <c>traceparent</c> of a sending span, which its batch carries to the receiving gateway; null
    /// without a span (or one not in W3C format, which the receiver could not parse).</summary>
    public static string? TraceParentOf(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C } ? activity.Id : null;

    /// <summary>
    /// One batch from another gateway, applied here (in its sequence: a batch that overtook an earlier one is applied
    /// when that one arrives, possibly during another batch's call). Its parent and its link are the sending span
    /// named by <paramref name="traceParent"/>: the parent keeps the batch's trace whole from one gateway to the
    /// other, the link follows the messaging conventions, which tie a consumer's span to the producer's by a link.
    /// </summary>
    public static Activity? StartLinkReceive(string? traceParent, string source, long sequence, int items)
    {
        if (!Source.HasListeners()) return null;
        Activity? activity;
        if (traceParent is not null && ActivityContext.TryParse(traceParent, traceState: null, isRemote: true, out var sender))
        {
            activity = Source.StartActivity(LinkReceive, ActivityKind.Consumer, sender, tags: null, links: [new ActivityLink(sender)]);
        }
        else
        {
            activity = Source.StartActivity(LinkReceive, ActivityKind.Consumer);
        }
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("relay.link.source", source);
            activity.SetTag("relay.link.sequence", sequence);
            activity.SetTag("relay.link.items", items);
        }
        return activity;
    }
}

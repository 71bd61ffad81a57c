using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Cluster;

/// <summary>
/// Subscribes this gateway to its own stream and applies the grains' decisions that arrive there: reaped peers, and
/// gateways joining and leaving meshes. (Other gateways' frames come to the <see cref="GatewayInbox"/>.)
/// </summary>
internal sealed partial class GatewayEventListener(
    IClusterClient cluster,
    GatewayIdentity gateway,
    MeshRegistry meshes,
    PeerMembership membership,
    RelayMetrics metrics,
    ILogger<GatewayEventListener> logger) : IHostedService
{
    private StreamSubscriptionHandle<GatewayEvent>? _subscription;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var stream = cluster.GetStreamProvider(GatewayStreams.Provider).GetStream<GatewayEvent>(GatewayStreams.For(gateway.Id));
        _subscription = await stream.SubscribeAsync(OnEventAsync);
        Log.Listening(logger, gateway.Id);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.UnsubscribeAsync();
    }

    private async Task OnEventAsync(GatewayEvent item, StreamSequenceToken? token)
    {
        try
        {
            switch (item)
            {
                case PeerReaped reaped:
                    await membership.ApplyReapedAsync(reaped);
                    // Counted once applied: whatever the reap announced here has been queued for the clients by now.
                    metrics.LeasesExpired(reaped.Connections.Length);
                    break;
                case GatewayJoinedMesh joined:
                    meshes.Find(joined.Mesh)?.MergeGateways([joined.GatewayId]);
                    break;
                case GatewayLeftMesh left:
                    meshes.Find(left.Mesh)?.ForgetGateway(left.GatewayId);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.EventFailed(logger, ex, item.GetType().Name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "Gateway {GatewayId} listening for cluster events")]
        public static partial void Listening(ILogger logger, string gatewayId);

        [LoggerMessage(EventId = 1902, Level = LogLevel.Error, Message = "Applying cluster event {EventType} failed")]
        public static partial void EventFailed(ILogger logger, Exception exception, string eventType);
    }
}

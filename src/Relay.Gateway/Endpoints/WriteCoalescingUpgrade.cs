using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Relay.Gateway.Connections;

namespace Relay.Gateway.Endpoints;

/// <summary>
/// Hands ASP.NET Core's WebSocket middleware the upgraded stream wrapped in a <see cref="WriteCoalescingStream"/>, so
/// that a connection's writer can send a burst of frames as one write. The WebSocket itself (framing, pings, close
/// handshake) stays ASP.NET Core's; only the transport under it changes.
/// </summary>
internal sealed class WriteCoalescingUpgrade(IHttpUpgradeFeature inner) : IHttpUpgradeFeature, IWebSocketTransportFeature
{
    /// <summary>The wrapped transport, once the request was upgraded.</summary>
    public WriteCoalescingStream? Transport { get; private set; }

    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync() => Transport = new WriteCoalescingStream(await inner.UpgradeAsync());

    /// <summary>The transport of an accepted WebSocket, when either way of serving the handshake made it.</summary>
    public static WriteCoalescingStream? TransportOf(HttpContext context) => context.Features.Get<IWebSocketTransportFeature>()?.Transport;

    /// <summary>Wraps the upgrade feature of upgradable requests. Must run before <c>UseWebSockets</c>, which takes the
    /// feature as it finds it.</summary>
    public static IApplicationBuilder UseWriteCoalescingUpgrade(IApplicationBuilder app) => app.Use(static (context, next) =>
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            var coalescing = new WriteCoalescingUpgrade(upgrade);
            context.Features.Set<IHttpUpgradeFeature>(coalescing);
            context.Features.Set<IWebSocketTransportFeature>(coalescing);
        }
        return next(context);
    });
}

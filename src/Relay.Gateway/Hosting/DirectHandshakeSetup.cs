using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Endpoints;

namespace Relay.Gateway.Hosting;

/// <summary>Puts <see cref="DirectUpgradeMiddleware"/> in front of every Kestrel endpoint (those of <c>--urls</c> and
/// configuration too) when <c>Relay:DirectHandshake</c> is on. Kestrel keeps one endpoint-defaults action: this is it,
/// and nothing else in the relay sets one.</summary>
internal sealed class DirectHandshakeSetup(IOptions<RelayOptions> relayOptions, ILoggerFactory loggers) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions options)
    {
        if (!relayOptions.Value.DirectHandshake) return;
        var logger = loggers.CreateLogger<DirectUpgradeMiddleware>();
        options.ConfigureEndpointDefaults(listen => listen.Use(next =>
            new DirectUpgradeMiddleware(next, listen.ApplicationServices.GetRequiredService<RelayWebSocketHandler>(), options.Limits, logger).OnConnectionAsync));
    }
}

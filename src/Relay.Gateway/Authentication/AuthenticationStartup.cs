using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Authentication;

/// <summary>Says at start-up whether auth is on and how, and fetches the identity provider's metadata in the
/// background so the first client does not wait for it. A provider that is down does not stop the relay: clients are
/// answered "unavailable" until it is reachable.</summary>
internal sealed partial class AuthenticationStartup(
    OidcMetadata metadata,
    IOptions<RelayAuthOptions> options,
    ILogger<AuthenticationStartup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var auth = options.Value;
        if (!auth.Enabled)
        {
            Log.Off(logger);
            return;
        }
        var authorizer = auth.CustomJwtAuthorizer;
        Log.On(logger, authorizer.DiscoveryUrl!, authorizer.AllowedClients.Length, authorizer.AllowedAudience.Length, auth.OnExpiry);
        if (authorizer.AllowedClients.Length == 0 && authorizer.AllowedAudience.Length == 0) Log.Unrestricted(logger);
        try
        {
            if (await metadata.GetAsync(stoppingToken) is null) Log.Unavailable(logger, authorizer.DiscoveryUrl!);
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1431, Level = LogLevel.Information, Message = "Auth off: clients are not authenticated (configure Relay:Auth:customJWTAuthorizer to turn it on)")]
        public static partial void Off(ILogger logger);

        [LoggerMessage(EventId = 1432, Level = LogLevel.Information,
            Message = "Auth on: tokens of the issuer at {DiscoveryUrl}, {Clients} allowed client(s), {Audiences} allowed audience(s), on expiry: {OnExpiry}")]
        public static partial void On(ILogger logger, string discoveryUrl, int clients, int audiences, TokenExpiryPolicy onExpiry);

        [LoggerMessage(EventId = 1433, Level = LogLevel.Warning,
            Message = "Auth on without allowedClients or allowedAudience: every valid token of the issuer is accepted, whatever application it was issued to")]
        public static partial void Unrestricted(ILogger logger);

        [LoggerMessage(EventId = 1434, Level = LogLevel.Warning,
            Message = "The identity provider's metadata at {DiscoveryUrl} is unavailable; clients are refused as 'unavailable' until it can be fetched")]
        public static partial void Unavailable(ILogger logger, string discoveryUrl);
    }
}

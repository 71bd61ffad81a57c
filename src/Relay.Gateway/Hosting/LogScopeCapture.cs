using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Hosting;

/// <summary>
/// Captures log scopes only when something prints them: OTLP log export (<see cref="RelayTelemetry.OtlpEndpointSetting"/>,
/// which exports scopes) or a provider configured with <c>IncludeScopes</c> (e.g.
/// <c>Logging:Console:FormatterOptions:IncludeScopes=true</c>).
/// </summary>
/// <remarks>
/// The console's formatters leave scopes out by default, yet while scopes are captured every <c>BeginScope</c> builds a
/// scope object and an async-local chain that every continuation of its flow keeps: Kestrel opens one per connection,
/// and a WebSocket's connection lasts as long as the socket (about 0.35 KB a peer at 18,000 peers,
/// bench/results/2026-12-03-scale-memory-3.md).
/// </remarks>
internal sealed class LogScopeCapture(IConfiguration configuration) : IPostConfigureOptions<LoggerFilterOptions>
{
    public void PostConfigure(string? name, LoggerFilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.CaptureScopes = ScopesWanted(configuration);
    }

    internal static bool ScopesWanted(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration[RelayTelemetry.OtlpEndpointSetting])
        || configuration.GetSection("Logging").AsEnumerable()
            .Any(setting => setting.Key.EndsWith(":IncludeScopes", StringComparison.OrdinalIgnoreCase)
                && bool.TryParse(setting.Value, out var include) && include);
}

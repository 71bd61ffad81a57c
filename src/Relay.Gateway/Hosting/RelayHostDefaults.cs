using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Authentication;

namespace Relay.Gateway.Hosting;

/// <summary>What every relay executable does the same way.</summary>
public static class RelayHostDefaults
{
    /// <summary>Where a node listens when nothing else is configured: loopback only, so a development machine does
    /// not expose it (containers set <c>ASPNETCORE_URLS=http://0.0.0.0:8080</c>).</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Log levels every node starts from (Orleans and ASP.NET Core only say what matters). They sit below
    /// every other configuration source, so appsettings.json, <c>Logging__LogLevel__Orleans</c> or
    /// <c>--Logging:LogLevel:Orleans</c> override them; and they hold wherever the process runs from, since only
    /// <c>Relay.Silo</c> carries an appsettings.json (one file per publish folder: docs/operations.md, "Executables").</summary>
    public static readonly IReadOnlyDictionary<string, string?> DefaultSettings = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // Off unless configured: while this category logs at any level, ASP.NET Core gives every request an Activity
        // and a log scope, and a WebSocket's request lasts as long as the socket (about 0.5 KB a peer,
        // bench/results/2026-12-03-scale.md). It logs request lines (Information) and start-up failures, which still
        // end the process with their exception.
        [$"Logging:LogLevel:{HostingDiagnosticsCategory}"] = "None",
        ["Logging:LogLevel:Orleans"] = "Warning",
        ["Logging:LogLevel:Polly"] = "Warning",
        ["Logging:LogLevel:Relay"] = "Information",
    };

    /// <summary>Adds <see cref="DefaultSettings"/> under every other configuration source, and listens on
    /// <see cref="DefaultUrl"/> unless <c>--urls</c>/<c>ASPNETCORE_URLS</c>, <c>HTTP_PORTS</c> or Kestrel endpoints
    /// say otherwise; keeps request URLs (credentials) out of the logs; reads <c>--authorizer-config</c>.</summary>
    public static WebApplicationBuilder UseRelayDefaults(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        ((IConfigurationBuilder)configuration).Sources.Insert(0, new MemoryConfigurationSource { InitialData = DefaultSettings });
        if (string.IsNullOrEmpty(configuration["urls"])
            && string.IsNullOrEmpty(configuration["http_ports"])
            && string.IsNullOrEmpty(configuration["https_ports"])
            && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        // ASP.NET Core's request log lines carry the full URL, and clients put credentials into it (access_token,
        // token, AgentCore's presigned X-Amz-* parameters): never log them, whatever the log configuration says, for
        // every provider (HostingDiagnosticsFilter). The level is the one configured for the category when stricter
        // (None by default, above), so that the category stays off unless asked for: a filter at Warning would turn it
        // back on, and with it the per-request Activity and log scope that every WebSocket keeps for its life.
        builder.Services.AddSingleton<IPostConfigureOptions<LoggerFilterOptions>, HostingDiagnosticsFilter>();
        // Log scopes only when a sink prints them: Kestrel's per-connection scope is otherwise kept, unprinted, for
        // every WebSocket's life (LogScopeCapture).
        builder.Services.AddSingleton<IPostConfigureOptions<LoggerFilterOptions>, LogScopeCapture>();
        // --authorizer-config PATH: an AgentCore authorizer file, mapped onto Relay:Auth before anything binds it.
        builder.Configuration.AddAgentCoreAuthorizerFile();
        return builder;
    }

    internal const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>The least severe level ASP.NET Core's hosting diagnostics may log at: the configured one, but never
    /// below <see cref="LogLevel.Warning"/> (below it are the request lines, with their URLs).</summary>
    internal static LogLevel HostingDiagnosticsLevel(IConfiguration configuration) =>
        Enum.TryParse<LogLevel>(configuration[$"Logging:LogLevel:{HostingDiagnosticsCategory}"], ignoreCase: true, out var configured)
            && configured > LogLevel.Warning
            ? configured
            : LogLevel.Warning;
}

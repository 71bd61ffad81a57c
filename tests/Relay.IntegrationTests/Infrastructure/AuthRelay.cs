using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Relay.Silo.Hosting;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The real relay (<see cref="RelayHost"/>, as <c>Program</c> builds it) on 127.0.0.1 with free ports, for the auth
/// tests: started with command-line settings like an operator's, and with every log line (Debug and up) captured so
/// tests can prove no token ever reaches a log.
/// </summary>
public sealed class AuthRelay : IAsyncDisposable
{
    private readonly RelayServer _server;

    private AuthRelay(RelayServer server, LogCapture logs)
    {
        _server = server;
        Logs = logs;
    }

    public Uri HttpBase => _server.HttpBase;

    public HttpClient Http => _server.Http;

    public IServiceProvider Services => _server.Services;

    public LogCapture Logs { get; }

    /// <summary>Starts a relay; <paramref name="arguments"/> are command-line arguments such as
    /// <c>--Relay:Auth:OnExpiry=Close</c> or <c>--authorizer-config</c>, <c>PATH</c>.</summary>
    public static async Task<AuthRelay> StartAsync(params string[] arguments)
    {
        var logs = new LogCapture();
        var server = await RelayServer.StartWithArgumentsAsync(arguments, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddFilter("Relay", LogLevel.Debug);
            builder.Logging.AddFilter("Orleans", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Debug); // request logging included: it must not show tokens
            builder.Logging.AddProvider(logs);
        });
        return new AuthRelay(server, logs);
    }

    /// <summary>A relay whose authorizer comes from an AgentCore file (<c>--authorizer-config PATH</c>) naming
    /// <paramref name="issuer"/>, plus Relay's own <paramref name="settings"/> (<c>Relay:Auth:ClockSkew=00:00:00</c>).</summary>
    public static async Task<AuthRelay> StartAgentCoreAsync(TestOidcIssuer issuer, string[] allowedClients, string[] allowedAudience, params string[] settings)
    {
        var path = AgentCoreFile.Write(issuer.DiscoveryUrl, allowedClients, allowedAudience);
        try
        {
            return await StartAsync([$"--authorizer-config={path}", .. settings.Select(s => "--" + s)]);
        }
        finally
        {
            File.Delete(path); // read once, at start
        }
    }

    /// <summary>ws://127.0.0.1:port{path}{query}.</summary>
    public Uri WebSocketUri(string path = "/ws", string query = "") => _server.WebSocketUri(path, query);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>Writes AgentCore authorizer files, exactly in AgentCore's form.</summary>
public static class AgentCoreFile
{
    public static string Write(string discoveryUrl, string[] allowedClients, string[] allowedAudience)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new
        {
            authorizerConfiguration = new
            {
                customJWTAuthorizer = new { discoveryUrl, allowedClients, allowedAudience },
            },
        });
        return WriteText(json);
    }

    public static string WriteText(string json)
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-authorizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}

/// <summary>Keeps every formatted log line (message and exception) of a relay.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values) owner._lines.Enqueue($"  {key}={value}");
            }
        }
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Hosting;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>
/// While log scopes are captured, Kestrel's per-connection scope is kept for every WebSocket's life, and the console
/// does not print scopes by default: the relay captures them only when a sink prints them (OTLP log export, or a
/// provider configured with IncludeScopes).
/// </summary>
public sealed class LogScopeCaptureTests
{
    private static IServiceProvider Services(params string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseRelayDefaults();
        return builder.Build().Services;
    }

    private static bool CapturesScopes(params string[] args)
    {
        return Services(args).GetRequiredService<IOptions<LoggerFilterOptions>>().Value.CaptureScopes;
    }

    [Fact]
    public void Scopes_are_not_captured_by_default()
    {
        Assert.False(CapturesScopes());
    }

    [Fact]
    public void A_scope_begun_by_default_is_the_shared_empty_one()
    {
        // The console provider takes external scopes: while scopes are captured, each BeginScope is an object of its own.
        var logger = Services().GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Connections");

        using var first = logger.BeginScope("connection 1");
        using var second = logger.BeginScope("connection 2");

        Assert.Same(first, second);
    }

    [Theory]
    [InlineData("--OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317")]
    [InlineData("--Logging:Console:FormatterOptions:IncludeScopes=true")]
    [InlineData("--Logging:Console:IncludeScopes=True")]
    public void Scopes_are_captured_when_a_sink_prints_them(string setting)
    {
        Assert.True(CapturesScopes(setting));
    }

    [Fact]
    public void IncludeScopes_false_keeps_them_off()
    {
        Assert.False(CapturesScopes("--Logging:Console:FormatterOptions:IncludeScopes=false"));
    }
}

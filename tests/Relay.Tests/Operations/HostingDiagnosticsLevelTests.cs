using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Gateway.Hosting;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>
/// ASP.NET Core gives a request an Activity and a log scope whenever its hosting diagnostics category logs at any
/// level, and a WebSocket's request lasts as long as the socket. The relay keeps that category off unless configured,
/// and never lets it log request lines (their URLs may carry credentials), whatever is configured.
/// </summary>
public sealed class HostingDiagnosticsLevelTests
{
    private const string Category = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private static ILogger HostingLogger(params string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseRelayDefaults();
        var app = builder.Build();
        return app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
    }

    [Fact]
    public void The_category_is_off_by_default()
    {
        Assert.False(HostingLogger().IsEnabled(LogLevel.Critical));
    }

    [Fact]
    public void A_configured_level_is_honoured_down_to_warning_but_no_further()
    {
        var logger = HostingLogger($"--Logging:LogLevel:{Category}=Information");

        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.False(logger.IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void A_configured_level_stricter_than_warning_is_kept()
    {
        var logger = HostingLogger($"--Logging:LogLevel:{Category}=Error");

        Assert.True(logger.IsEnabled(LogLevel.Error));
        Assert.False(logger.IsEnabled(LogLevel.Warning));
    }

    [Theory]
    [InlineData("--Logging:Console:LogLevel:Default=Information")]
    [InlineData("--Logging:Console:LogLevel:Default=Trace")]
    [InlineData("--Logging:Debug:LogLevel:Default=Debug")]
    [InlineData("--Logging:EventSource:LogLevel:Default=Trace")]
    [InlineData("--Logging:Console:LogLevel:Microsoft.AspNetCore=Trace")]
    [InlineData("--Logging:Console:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Trace")]
    [InlineData("--Logging:Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider:LogLevel:Default=Trace")]
    [InlineData("--Logging:LogLevel:Microsoft.AspNetCore=Trace")]
    [InlineData("--Logging:LogLevel:Default=Trace")]
    public void Provider_scoped_rules_cannot_turn_the_request_lines_on(string setting)
    {
        // Provider-scoped rules beat every rule without a provider, however specific its category.
        Assert.False(HostingLogger(setting).IsEnabled(LogLevel.Information));
        Assert.False(HostingLogger(setting, $"--Logging:LogLevel:{Category}=Trace").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void A_provider_scoped_level_for_the_category_is_honoured_down_to_warning()
    {
        var logger = HostingLogger($"--Logging:LogLevel:{Category}=Warning", "--Logging:Console:LogLevel:Default=Trace");

        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.False(logger.IsEnabled(LogLevel.Information));
    }
}

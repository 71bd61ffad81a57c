using Microsoft.Extensions.Logging;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;

namespace Relay.Silo.Hosting;

/// <summary>
/// Builds the single-process relay: an Orleans silo and the WebSocket gateway in one ASP.NET Core host (the
/// AgentCore shape). <c>Program</c> runs it; the tests start the very same host on loopback.
/// </summary>
public static class RelayHost
{
    /// <summary>Where the relay listens when nothing else is configured: loopback only, so a development
    /// machine does not expose it (containers set <c>ASPNETCORE_URLS=http://0.0.0.0:8080</c>).</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        // ASP.NET Core's request log lines carry the full URL, and clients put credentials into it (access_token,
        // token, AgentCore's presigned X-Amz-* parameters): never log them, whatever the log configuration says.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        // --authorizer-config PATH: an AgentCore authorizer file, mapped onto Relay:Auth before anything binds it.
        builder.Configuration.AddAgentCoreAuthorizerFile();
        // The silo first: hosted services start in registration order, and the gateway's need a running silo.
        builder.UseOrleans(silo => silo.UseRelayLocalCluster(builder.Configuration).AddRelayGrains(builder.Configuration));
        builder.Services.AddRelayGateway(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseRelay();
        return app;
    }
}

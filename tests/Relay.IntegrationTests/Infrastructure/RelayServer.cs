using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Silo.Hosting;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The real single-process relay (Kestrel + co-hosted Orleans silo), exactly as <c>Program</c> builds it, on
/// 127.0.0.1 with a free HTTP port and free silo ports, so test classes can run their servers side by side.
/// </summary>
public sealed class RelayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RelayServer(WebApplication app, Uri httpBase)
    {
        _app = app;
        HttpBase = httpBase;
        Http = new HttpClient { BaseAddress = httpBase, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Settings that lift the connect rate per client address (tests that check it set their own).</summary>
    public static readonly string[] UnlimitedConnectRate = ["Relay:ConnectsPerSecondPerAddress=1000000", "Relay:ConnectBurstPerAddress=1000000"];

    /// <summary>Base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri HttpBase { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a relay. <paramref name="settings"/> are configuration overrides such as
    /// <c>"Relay:StaleTimeout=00:00:02"</c>, passed as command-line arguments like an operator would. Unless they say
    /// otherwise, a stopping relay closes its remaining sockets at once (<c>Relay:DrainWindow=0</c>): tests stop many
    /// relays, and spreading the closes of leftover connections would only slow them down. Nor is the connect rate
    /// per address limited (<see cref="UnlimitedConnectRate"/>): every test client is 127.0.0.1, and a class sharing a
    /// relay opens connections faster than one client address may.</summary>
    public static Task<RelayServer> StartAsync(params string[] settings) =>
        StartWithArgumentsAsync(["--Relay:DrainWindow=00:00:00", .. UnlimitedConnectRate.Select(s => "--" + s), .. settings.Select(s => "--" + s)], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });

    /// <summary>Starts a relay with raw command-line <paramref name="arguments"/> (e.g. <c>--authorizer-config=PATH</c>)
    /// and a hook on the host builder (e.g. log capture). The listening address and silo ports are chosen here.</summary>
    public static async Task<RelayServer> StartWithArgumentsAsync(IEnumerable<string> arguments, Action<WebApplicationBuilder> configure)
    {
        // Two ports at once: two ephemeral ports asked for one after the other can be the same one.
        var siloPort = ClusterScript.FreePortBlock(2, new HashSet<int>());
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            $"--Cluster:SiloPort={siloPort}",
            $"--Cluster:GatewayPort={siloPort + 1}",
            .. arguments,
        ];
        var app = RelayHost.Build(args, configure);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RelayServer(app, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>The WebSocket URL: <c>ws://127.0.0.1:port{path}{query}</c>, query like "?mesh=a".</summary>
    public Uri WebSocketUri(string path = "/ws", string query = "") =>
        new($"ws://{HttpBase.Authority}{path}{query}");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Hosting;
using Relay.Silo.Hosting;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Cluster;

/// <summary>The node roles in one test process, without Redis: a silo-only node, and a gateway-only node
/// (<see cref="GatewayHost"/>, an Orleans client) in front of a single-process relay's silo.</summary>
public class RoleTests
{
    [Fact]
    public async Task A_silo_only_node_answers_ping_and_healthz_but_holds_no_websockets()
    {
        await using var silo = await StartAsync(args => RelayHost.Build(args, Quiet), "--Cluster:Role=Silo",
            $"--Cluster:SiloPort={FreePort()}", $"--Cluster:GatewayPort={FreePort()}");
        using var http = ClusterHttp.Client();

        Assert.Equal(200, (await ClusterHttp.GetAsync(http, silo.HttpBase, "ping")).Status);
        var health = await ClusterHttp.GetAsync(http, silo.HttpBase, "healthz");
        Assert.Equal((200, "Healthy"), health);
        Assert.Equal(404, (await ClusterHttp.GetAsync(http, silo.HttpBase, "ws")).Status);
        Assert.Equal(RelayRole.Silo, silo.App.Services.GetRequiredService<RelayNode>().Role);
    }

    [Fact]
    public async Task The_single_process_relay_answers_healthz()
    {
        await using var relay = await RelayServer.StartAsync();
        using var response = await relay.Http.GetAsync(new Uri("healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_gateway_only_node_serves_websockets_through_the_silo_of_another_process()
    {
        var gatewayPort = FreePort();
        await using var relay = await RelayServer.StartAsync($"Cluster:GatewayPort={gatewayPort}");
        await using var gateway = await StartAsync(args => GatewayHost.Build(args, Quiet), $"--Cluster:GatewayPort={gatewayPort}");
        using var http = ClusterHttp.Client();

        Assert.Equal(200, (await ClusterHttp.GetAsync(http, gateway.HttpBase, "healthz")).Status);
        Assert.Equal(200, (await ClusterHttp.GetAsync(http, gateway.HttpBase, "ping")).Status);
        Assert.Equal(RelayRole.Gateway, gateway.App.Services.GetRequiredService<RelayNode>().Role);

        var mesh = ClusterHttp.NewMesh();
        var alice = await ClusterHttp.ConnectPeerAsync(new Uri($"ws://{gateway.HttpBase.Authority}/ws?mesh={mesh}"), "alice");
        var bob = await ClusterHttp.ConnectPeerAsync(relay.WebSocketUri(query: "?mesh=" + mesh), "bob");
        try
        {
            // The roster is the cluster's: both nodes report both peers.
            Assert.Equal(["alice", "bob"], await ClusterHttp.WaitForPeersAsync(http, gateway.HttpBase, mesh, ["alice", "bob"], TimeSpan.FromSeconds(10)));
            Assert.Equal(["alice", "bob"], await ClusterHttp.WaitForPeersAsync(http, relay.HttpBase, mesh, ["alice", "bob"], TimeSpan.FromSeconds(10)));

            // Alice's socket closes: her gateway tells the cluster she left.
            await ClusterHttp.CloseAsync(alice);
            Assert.Equal(["bob"], await ClusterHttp.WaitForPeersAsync(http, relay.HttpBase, mesh, ["bob"], TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await ClusterHttp.CloseAsync(alice);
            await ClusterHttp.CloseAsync(bob);
        }
    }

    [Fact]
    public void Relay_Silo_refuses_the_gateway_role()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RelayHost.Build(["--Cluster:Role=Gateway"]));
        Assert.Contains("Relay.Gateway", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Cluster:SiloPort=30000", "SiloPort")]
    [InlineData("Cluster:GatewayPort=0", "GatewayPort")]
    [InlineData("Cluster:ProbeTimeout=00:00:00", "ProbeTimeout")]
    [InlineData("Cluster:NumVotesForDeathDeclaration=0", "NumVotesForDeathDeclaration")]
    [InlineData("Cluster:AdvertisedIPAddress=not an address", "AdvertisedIPAddress")]
    [InlineData("Cluster:ClusterId=", "ClusterId")]
    public void Bad_cluster_settings_stop_the_node_with_a_message(string setting, string member)
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(["--" + setting]).Build();
        var error = Assert.Throws<OptionsValidationException>(() => RelayClusterConfiguration.Read(configuration));
        Assert.Contains(member, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_the_single_process_on_loopback_with_orleans_failure_detection()
    {
        var options = RelayClusterConfiguration.Read(new ConfigurationBuilder().Build());
        Assert.Equal(RelayRole.Combined, options.Role);
        Assert.False(options.UsesRedis);
        Assert.Equal("127.0.0.1", options.AdvertisedIPAddress);
        Assert.Equal((11111, 30000), (options.SiloPort, options.GatewayPort));
        Assert.Equal(("relay", "relay"), (options.ClusterId, options.ServiceId));
        Assert.Null(options.ProbeTimeout);
        Assert.Null(options.NumMissedProbesLimit);
        Assert.Null(options.NumVotesForDeathDeclaration);
    }

    [Fact]
    public async Task Fast_failure_detection_reaches_orleans()
    {
        string[] args =
        [
            "--Cluster:ProbeTimeout=00:00:01", "--Cluster:NumMissedProbesLimit=2", "--Cluster:NumVotesForDeathDeclaration=1",
            $"--Cluster:SiloPort={FreePort()}", $"--Cluster:GatewayPort={FreePort()}", "--urls", "http://127.0.0.1:0",
        ];
        await using var app = RelayHost.Build(args, Quiet);
        var membership = app.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(1), membership.ProbeTimeout);
        Assert.Equal(2, membership.NumMissedProbesLimit);
        Assert.Equal(1, membership.NumVotesForDeathDeclaration);

        await using var plain = RelayHost.Build([$"--Cluster:SiloPort={FreePort()}", $"--Cluster:GatewayPort={FreePort()}"], Quiet);
        var defaults = plain.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(5), defaults.ProbeTimeout);
        Assert.Equal(3, defaults.NumMissedProbesLimit);
        Assert.Equal(2, defaults.NumVotesForDeathDeclaration);
    }

    private static void Quiet(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
    }

    private sealed class Node(WebApplication app, Uri httpBase) : IAsyncDisposable
    {
        public WebApplication App { get; } = app;

        public Uri HttpBase { get; } = httpBase;

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await App.StopAsync(timeout.Token);
            }
            finally
            {
                await App.DisposeAsync();
            }
        }
    }

    private static async Task<Node> StartAsync(Func<string[], WebApplication> build, params string[] settings)
    {
        var app = build(["--urls", "http://127.0.0.1:0", .. settings]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await app.StartAsync(timeout.Token);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Node(app, new Uri(address.TrimEnd('/') + "/"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

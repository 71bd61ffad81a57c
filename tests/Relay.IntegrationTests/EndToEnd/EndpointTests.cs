using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Endpoints": the WebSocket at /ws and /, GET /ping, POST /invocations, and the
/// answers to requests that are not relay WebSockets.</summary>
public sealed class EndpointTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Theory]
    [InlineData("/ws", "/")]
    [InlineData("/", "/ws")]
    [InlineData("/", "/")]
    public async Task WebSocket_is_served_at_ws_and_at_root(string pathA, string pathB)
    {
        var a = await ConnectToAsync(MeshUri(path: pathA));
        var b = await ConnectToAsync(MeshUri(path: pathB));
        await a.RegisterAsync(new { where = pathA });
        var snapshot = await b.RegisterAsync(new { where = pathB });

        Assert.Contains(snapshot, f => Frame.IsPresenceOf(f, a.Id));
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        await a.MarkAsync(b);
        await b.MarkAsync(a);
    }

    [Fact]
    public async Task Url_typed_verbatim_without_path_or_mesh_joins_the_default_mesh()
    {
        // Real clients open exactly what their user typed, typically ws://host:port.
        var relay = await StartRelayAsync();
        var verbatim = new Uri($"ws://{relay.HttpBase.Authority}");
        var typed = await ConnectToAsync(verbatim);
        var explicitDefault = await ConnectToAsync(relay.WebSocketUri("/ws", "?mesh=default"));
        var otherMesh = await ConnectToAsync(relay.WebSocketUri("/ws", "?mesh=elsewhere"));

        await typed.RegisterAsync();
        await otherMesh.RegisterAsync();
        var snapshot = await explicitDefault.RegisterAsync();

        Assert.Single(snapshot);
        Assert.True(Frame.IsPresenceOf(snapshot[0], typed.Id), typed.Dump());
        await typed.WaitForAsync(f => Frame.IsPresenceOf(f, explicitDefault.Id));
        await typed.MarkAsync(explicitDefault);
    }

    [Fact]
    public async Task Ping_answers_Healthy_with_the_time_in_unix_seconds()
    {
        var before = UnixNow();
        using var response = await Relay.Http.GetAsync(new Uri("ping", UriKind.Relative));
        var after = UnixNow();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["status", "time_of_last_update"], body.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        AssertUnixSeconds(body.RootElement.GetProperty("time_of_last_update"), before, after);
    }

    [Fact]
    public async Task Invocations_lists_the_registered_peers_of_the_mesh_sorted()
    {
        var otherMesh = Mesh + "-other";
        var zeta = await JoinAsync("zeta");
        var alpha = await JoinAsync("alpha");
        var alphaTab = await JoinAsync("alpha");
        var mid = await JoinAsync("mid");
        var unregistered = await ConnectAsync("ghost");
        await unregistered.SyncAsync();
        var elsewhere = await JoinAsync("elsewhere", mesh: otherMesh);

        var status = await InvocationsAsync(Mesh);
        Assert.Equal("ok", status.GetProperty("status").GetString());
        Assert.Equal(["alpha", "mid", "zeta"], PeersOf(status));
        Assert.Equal(3, status.GetProperty("count").GetInt32());
        Assert.Equal(["elsewhere"], PeersOf(await InvocationsAsync(otherMesh)));

        await zeta.CloseAsync();
        await mid.WaitForAsync(f => Frame.IsOfflineOf(f, "zeta"));
        status = await InvocationsAsync(Mesh);
        Assert.Equal(["alpha", "mid"], PeersOf(status));
        Assert.Equal(2, status.GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Invocations_without_a_mesh_reports_the_default_mesh()
    {
        var relay = await StartRelayAsync();
        var peer = await ConnectToAsync(relay.WebSocketUri("/ws"));
        await peer.RegisterAsync();

        var status = await InvocationsAsync(mesh: null);
        Assert.Equal([peer.Id], PeersOf(status));
        Assert.Equal(1, status.GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Invocations_of_an_empty_mesh_is_ok_with_no_peers()
    {
        var status = await InvocationsAsync(Mesh);
        Assert.Equal("ok", status.GetProperty("status").GetString());
        Assert.Empty(PeersOf(status));
        Assert.Equal(0, status.GetProperty("count").GetInt32());
    }

    /// <summary>A plain GET of <c>/</c> shows the dashboard (Operations/DashboardTests; 426 when the dashboard is off).</summary>
    [Fact]
    public async Task Plain_GET_of_the_WebSocket_path_is_answered_426()
    {
        using var response = await Relay.Http.GetAsync(new Uri("ws", UriKind.Relative));
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a%20b")]
    [InlineData("a%2Fb")]
    [InlineData("caf%C3%A9")]
    [InlineData("semi%3Bcolon")]
    public async Task Invalid_mesh_name_is_refused_with_400(string encodedMesh)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(Relay.WebSocketUri("/ws", "?mesh=" + encodedMesh), timeout.Token));
        Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);

        using var response = await Relay.Http.PostAsync(new Uri("invocations?mesh=" + encodedMesh, UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Mesh_name_longer_than_128_characters_is_refused_with_400()
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(Relay.WebSocketUri("/ws", "?mesh=" + new string('m', 129)), timeout.Token));
        Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Mesh_name_of_128_allowed_characters_is_accepted()
    {
        var mesh = ("Az09-_.~" + Guid.NewGuid().ToString("N")).PadRight(128, 'x');
        var a = await JoinAsync(mesh: mesh);
        var b = await JoinAsync(mesh: mesh);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), PeersOf(await InvocationsAsync(mesh)));
    }

    [Fact]
    public async Task Restarted_relay_starts_empty()
    {
        var port = FreePort();
        var first = await RelayServer.StartAsync($"urls=http://127.0.0.1:{port}");
        try
        {
            await using var before = await TestPeer.ConnectAsync(first.WebSocketUri("/ws", "?mesh=" + Mesh), "before");
            await before.RegisterAsync(new { agents = new[] { "chat" } });
        }
        finally
        {
            await first.DisposeAsync();
        }

        var second = await StartRelayAsync($"urls=http://127.0.0.1:{port}");
        Assert.Equal(first.HttpBase, second.HttpBase);
        Assert.Empty(PeersOf(await InvocationsAsync(Mesh)));
        var after = await ConnectToAsync(MeshUri());
        var snapshot = await after.RegisterAsync();
        Assert.Empty(snapshot);
        var capabilities = await after.SyncAsync();
        Assert.Empty(capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

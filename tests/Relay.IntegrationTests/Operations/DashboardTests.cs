using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Dashboard;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Operations;

/// <summary>Issue 7: the live dashboard over HTTP (the page, its server-sent events, where it is served and when it is
/// off). The browser drives it in <see cref="DashboardBrowserTests"/>.</summary>
public sealed class DashboardTests : EndToEndTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_page_is_served_at_dashboard_and_at_root_and_the_root_WebSocket_still_works()
    {
        await StartRelayAsync();
        foreach (var path in new[] { "dashboard", "" })
        {
            using var response = await Relay.Http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            var html = await response.Content.ReadAsStringAsync();
            Assert.Contains("/dashboard/events", html, StringComparison.Ordinal);
            Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal), StringComparison.Ordinal); // nothing fetched from elsewhere
            Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        }

        var atRoot = await ConnectToAsync(MeshUri(path: "/"), TestPeer.NewId("root"));
        await atRoot.RegisterAsync();
        var atWs = await JoinAsync();
        await atWs.SendAsync(new { type = "broadcast", data = new { n = 1 } });
        await atRoot.WaitForAsync(f => Frame.IsType(f, "broadcast"));
    }

    [Fact]
    public async Task Events_show_peers_with_metadata_rates_nodes_and_disconnects_with_reasons()
    {
        await StartRelayAsync();
        await using var stream = await DashboardStream.OpenAsync(Relay.Http);
        var alice = await JoinAsync(TestPeer.NewId("alice"), new { name = "Alice", agents = new[] { "writer" } });
        var bob = await JoinAsync(TestPeer.NewId("bob"));
        await alice.SendAsync(new { type = "broadcast", data = new { n = 1 } });
        await bob.WaitForAsync(f => Frame.IsType(f, "broadcast"));

        var view = await stream.WaitForAsync(v => DashboardStream.ShowsPeer(v, Mesh, alice.Id) && DashboardStream.ShowsPeer(v, Mesh, bob.Id)
            && v.GetProperty("rates").EnumerateArray().Any(r => r.GetProperty("in").GetInt64() > 0 && r.GetProperty("out").GetInt64() > 0),
            Wait, "both peers and traffic");
        var shown = DashboardStream.Peers(view, Mesh).Single(p => p.GetProperty("id").GetString() == alice.Id);
        Assert.Contains("\"Alice\"", shown.GetProperty("metadata").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, shown.GetProperty("local").GetInt32());
        Assert.Contains(view.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("kind").GetString() == "silo" && n.GetProperty("status").GetString() == "Active");
        Assert.Contains(view.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("kind").GetString() == "gateway" && n.GetProperty("self").GetBoolean());

        await bob.CloseAsync();
        view = await stream.WaitForAsync(v => !DashboardStream.ShowsPeer(v, Mesh, bob.Id)
            && v.GetProperty("disconnects").EnumerateArray().Any(d => d.GetProperty("peer").GetString() == bob.Id)
            && v.GetProperty("rates").EnumerateArray().Any(r => r.GetProperty("closed").GetInt64() > 0),
            Wait, "bob gone, among the disconnects and in the closed connections' rate");
        var disconnect = view.GetProperty("disconnects").EnumerateArray().First(d => d.GetProperty("peer").GetString() == bob.Id);
        Assert.Equal("closed by client", disconnect.GetProperty("reason").GetString());
        Assert.Equal((int)WebSocketCloseStatus.NormalClosure, disconnect.GetProperty("code").GetInt32());
        Assert.True(DashboardStream.ShowsPeer(view, Mesh, alice.Id));
    }

    [Fact]
    public async Task A_relay_close_shows_the_relays_reason()
    {
        await StartRelayAsync("Relay:MaxFrameBytes=2048", "Relay:SendQueueBytes=4096");
        await using var stream = await DashboardStream.OpenAsync(Relay.Http);
        var big = await JoinAsync(TestPeer.NewId("big"));
        await big.SendAsync(new { type = "broadcast", data = new string('x', 4096) });
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await big.WaitForCloseAsync(Wait));
        var view = await stream.WaitForAsync(v => v.GetProperty("disconnects").EnumerateArray().Any(d => d.GetProperty("peer").GetString() == big.Id),
            Wait, "the oversize close");
        var disconnect = view.GetProperty("disconnects").EnumerateArray().First(d => d.GetProperty("peer").GetString() == big.Id);
        Assert.Equal(1009, disconnect.GetProperty("code").GetInt32());
        Assert.Equal("frame larger than 2048 bytes", disconnect.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Switched_off_it_is_not_served_and_root_stays_the_WebSocket_endpoint()
    {
        await StartRelayAsync("Relay:Dashboard:Enabled=false");
        foreach (var path in new[] { "dashboard", "dashboard/events" })
        {
            using var response = await Relay.Http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        using var root = await Relay.Http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.UpgradeRequired, root.StatusCode);
    }

    [Fact]
    public async Task Sixteen_idle_streams_do_not_lock_out_the_next_viewer()
    {
        await StartRelayAsync();
        var idle = new List<DashboardStream>();
        try
        {
            // Opened and never read again, as an attacker would hold them.
            for (var i = 0; i < 16; i++) idle.Add(await DashboardStream.OpenAsync(Relay.Http));

            await using var viewer = await DashboardStream.OpenAsync(Relay.Http);
            await viewer.WaitForAsync(_ => true, Wait, "a first update for the 17th viewer");
            Assert.True(await idle[0].EndsWithinAsync(Wait), "the oldest stream should have made room");
        }
        finally
        {
            foreach (var stream in idle) await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_newer_viewer_ends_the_oldest_stream_of_the_busiest_address()
    {
        await StartRelayAsync("Relay:Dashboard:MaxViewers=4", "Relay:Dashboard:MaxViewersPerAddress=2");
        using var b = LocalAddress.HttpClient(IPAddress.Parse("127.0.0.2"), Relay.HttpBase);
        using var c = LocalAddress.HttpClient(IPAddress.Parse("127.0.0.3"), Relay.HttpBase);
        await using var b1 = await DashboardStream.OpenAsync(b);
        await using var a1 = await DashboardStream.OpenAsync(Relay.Http);
        await using var a2 = await DashboardStream.OpenAsync(Relay.Http);
        await using var c1 = await DashboardStream.OpenAsync(c);

        // Full: 127.0.0.1 holds the most, so its oldest goes, not the oldest of all (b1).
        await using var c2 = await DashboardStream.OpenAsync(c);
        Assert.True(await a1.EndsWithinAsync(Wait));
        await c2.WaitForAsync(_ => true, Wait, "a first update");

        // An address at its own maximum displaces only its own oldest.
        await using var c3 = await DashboardStream.OpenAsync(c);
        Assert.True(await c1.EndsWithinAsync(Wait));
        await b1.WaitForAsync(_ => true, Wait, "b1 still updated");
        await a2.WaitForAsync(_ => true, Wait, "a2 still updated");
        Assert.Equal(4, Relay.Services.GetRequiredService<DashboardStreams>().Count);
    }

    private async Task<HttpStatusCode> GetWithHostAsync(string path, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Host = host;
        using var response = await Relay.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.StatusCode;
    }

    [Fact]
    public async Task A_page_rebound_to_the_relay_under_its_own_name_is_refused()
    {
        // DNS rebinding: evil.example first resolves to the attacker, then to 127.0.0.1; the browser keeps sending
        // Host: evil.example, and would let the attacker's page read the dashboard as same-origin.
        await StartRelayAsync();
        var port = Relay.HttpBase.Port;
        foreach (var path in new[] { "dashboard", "dashboard/events", "" })
        {
            Assert.Equal(HttpStatusCode.Forbidden, await GetWithHostAsync(path, $"evil.example:{port}"));
            Assert.Equal(HttpStatusCode.Forbidden, await GetWithHostAsync(path, "evil.example"));
        }
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", $"localhost:{port}"));
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", $"127.0.0.1:{port}"));
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", $"[::1]:{port}"));
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", $"relay.localhost:{port}"));
        // Health and the WebSocket endpoint are not the dashboard's: any Host.
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("ping", "evil.example"));
    }

    [Fact]
    public async Task Configured_host_names_are_served()
    {
        await StartRelayAsync("Relay:Dashboard:AllowedHosts:0=relay.example", "Relay:Dashboard:AllowedHosts:1=Ops.Example");
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", "relay.example"));
        Assert.Equal(HttpStatusCode.OK, await GetWithHostAsync("dashboard", "ops.example:8443"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetWithHostAsync("dashboard", "evil.example"));
    }
}

using System.Net;
using System.Net.WebSockets;
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
    public async Task Viewers_beyond_the_limit_get_503()
    {
        await StartRelayAsync("Relay:Dashboard:MaxViewers=1");
        await using var first = await DashboardStream.OpenAsync(Relay.Http);
        await first.WaitForAsync(_ => true, Wait, "a first update");
        using var second = await Relay.Http.GetAsync(new Uri("dashboard/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.NotNull(second.Headers.RetryAfter);
    }
}

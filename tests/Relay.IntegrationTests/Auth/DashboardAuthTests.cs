using System.Net;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Issue 7: the dashboard lists peers and their metadata, so with auth on it is off by default, and when
/// switched on it needs a valid token; a token with a mesh claim sees only its mesh.</summary>
public sealed class DashboardAuthTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private TestOidcIssuer _issuer = null!;

    public async Task InitializeAsync() => _issuer = await TestOidcIssuer.StartAsync();

    public async Task DisposeAsync() => await _issuer.DisposeAsync();

    private Task<AuthRelay> StartAsync(params string[] settings) => AuthRelay.StartAsync(
    [
        $"--Relay:Auth:customJWTAuthorizer:discoveryUrl={_issuer.DiscoveryUrl}",
        "--Relay:Auth:customJWTAuthorizer:allowedClients:0=cognito-app",
        "--Relay:Auth:MeshClaim=tenant",
        .. settings.Select(s => "--" + s),
    ]);

    private string Token(string? tenant = null, string subject = "alice") => _issuer.Token(new TokenSpec
    {
        Subject = subject,
        ClientId = "cognito-app",
        Audience = null,
        Claims = tenant is null ? null : new Dictionary<string, object> { ["tenant"] = tenant },
    });

    [Fact]
    public async Task With_auth_on_it_is_off_unless_enabled()
    {
        await using var relay = await StartAsync();
        foreach (var path in new[] { "dashboard", $"dashboard?access_token={Token()}", "dashboard/events" })
        {
            using var response = await relay.Http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        using var root = await relay.Http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.UpgradeRequired, root.StatusCode);
    }

    [Fact]
    public async Task Enabled_with_auth_on_it_needs_a_valid_token_and_a_mesh_claim_limits_it_to_its_mesh()
    {
        await using var relay = await StartAsync("Relay:Dashboard:Enabled=true");
        foreach (var path in new[] { "dashboard", "", "dashboard/events", "dashboard/events?access_token=not-a-token" })
        {
            using var response = await relay.Http.GetAsync(new Uri(path, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        using (var page = await relay.Http.GetAsync(new Uri($"dashboard?access_token={Token()}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        var (mine, theirs) = (AuthFixture.NewMesh(), AuthFixture.NewMesh());
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await TestPeer.ConnectWithTokenAsync(relay.WebSocketUri(query: $"?mesh={mine}"), Token(mine));
        Assert.Null(await a.RegisterAsAsync(alice));
        await using var b = await TestPeer.ConnectWithTokenAsync(relay.WebSocketUri(query: $"?mesh={theirs}"), Token(theirs, "bob"));
        Assert.Null(await b.RegisterAsAsync(bob));

        // A token without a mesh claim sees every mesh; one with a claim only its own.
        await using (var all = await DashboardStream.OpenAsync(relay.Http, $"?access_token={Token()}"))
        {
            await all.WaitForAsync(v => DashboardStream.ShowsPeer(v, mine, alice) && DashboardStream.ShowsPeer(v, theirs, bob), Wait, "both meshes");
        }
        await using var limited = await DashboardStream.OpenAsync(relay.Http, $"?access_token={Token(mine)}");
        var view = await limited.WaitForAsync(v => DashboardStream.ShowsPeer(v, mine, alice), Wait, "its own mesh");
        Assert.Single(view.GetProperty("meshes").EnumerateArray());
        Assert.Equal(1, view.GetProperty("meshCount").GetInt32());
        Assert.DoesNotContain(bob, view.ToString(), StringComparison.Ordinal);
    }
}

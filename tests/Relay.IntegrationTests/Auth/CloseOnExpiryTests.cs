using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>
/// A relay configured through <c>Relay:Auth</c> keys (the appsettings.json / environment variable shape of AgentCore's
/// customJWTAuthorizer) the Cognito way (allowed clients, no audience: Cognito access tokens carry client_id and no
/// aud), closing connections when their token expires, and with a mesh claim.
/// </summary>
public sealed class CloseOnExpiryFixture : IAsyncLifetime
{
    public TestOidcIssuer Issuer { get; private set; } = null!;

    public AuthRelay Relay { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Issuer = await TestOidcIssuer.StartAsync();
        Relay = await AuthRelay.StartAsync(
            $"--Relay:Auth:customJWTAuthorizer:discoveryUrl={Issuer.DiscoveryUrl}",
            "--Relay:Auth:customJWTAuthorizer:allowedClients:0=cognito-app",
            "--Relay:Auth:OnExpiry=Close",
            "--Relay:Auth:ClockSkew=00:00:00",
            "--Relay:Auth:MeshClaim=tenant");
    }

    public async Task DisposeAsync()
    {
        await Relay.DisposeAsync();
        await Issuer.DisposeAsync();
    }

    /// <summary>A Cognito-like access token: client_id, no aud.</summary>
    public string Token(string subject = "alice", TimeSpan? lifetime = null, string? tenant = null) => Issuer.Token(new TokenSpec
    {
        Subject = subject,
        ClientId = "cognito-app",
        Audience = null,
        Lifetime = lifetime ?? TimeSpan.FromMinutes(10),
        Claims = tenant is null ? null : new Dictionary<string, object> { ["tenant"] = tenant },
    });

    public Uri MeshUri(string mesh) => Relay.WebSocketUri(query: $"?mesh={mesh}");

    public static async Task<TestPeer> JoinAsync(Uri uri, string peerId, string token)
    {
        var client = await TestPeer.ConnectWithTokenAsync(uri, token);
        Assert.Null(await client.RegisterAsAsync(peerId));
        return client;
    }
}

public class CloseOnExpiryTests(CloseOnExpiryFixture fixture) : IClassFixture<CloseOnExpiryFixture>
{
    [Fact]
    public async Task The_connection_is_closed_1008_when_its_token_expires_and_its_peer_goes_offline()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(mesh), alice, fixture.Token(lifetime: TimeSpan.FromSeconds(5)));
        await using var b = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(mesh), bob, fixture.Token("bob"));

        var (status, reason) = await a.ClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("token expired", reason);
        var offline = await b.SkipToAsync(f => Frame.Type(f) == "presence" && f.GetProperty("from").GetString() == alice);
        Assert.Equal("offline", offline.GetProperty("data").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_fresh_auth_frame_keeps_the_connection_open_past_the_old_expiry()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob, control) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"), AuthFixture.NewPeer("control"));
        var shortLived = fixture.Token(lifetime: TimeSpan.FromSeconds(6));
        await using var a = await TestPeer.ConnectAsync(fixture.MeshUri(mesh));
        await a.AuthAsync(shortLived); // first-frame token
        Assert.Null(await a.RegisterAsAsync(alice));
        await using var c = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(mesh), control, shortLived); // same expiry, never refreshed
        await using var b = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(mesh), bob, fixture.Token("bob"));

        await a.AuthAsync(fixture.Token(lifetime: TimeSpan.FromMinutes(10)));
        await a.SkipToSyncAsync();
        Assert.DoesNotContain(a.Drain(), f => Frame.Type(f) == "error");

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, (await c.ClosedAsync()).Status);
        await Until.RelayRefusesAsync(fixture.MeshUri(mesh), shortLived);
        await a.SendAsync(new { type = "broadcast", from = alice, data = new { text = "refreshed" } });
        await b.SkipToAsync(f => Frame.Type(f) == "broadcast");
        await a.SkipToSyncAsync();
        Assert.Equal(WebSocketState.Open, a.State);
    }

    [Fact]
    public async Task The_mesh_claim_names_the_mesh()
    {
        var tenant = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        var token = fixture.Token(tenant: tenant);

        // No ?mesh=: the token's mesh. The same ?mesh=: fine.
        await using var a = await CloseOnExpiryFixture.JoinAsync(fixture.Relay.WebSocketUri(), alice, token);
        await using var b = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(tenant), bob, fixture.Token("bob", tenant: tenant));
        await a.SkipToAsync(f => Frame.Type(f) == "presence" && f.GetProperty("from").GetString() == bob);

        // Another ?mesh=: 403 at the upgrade, 1008 after a first-frame token.
        var (client, status, challenge) = await TestPeer.TryConnectAsync(fixture.MeshUri("elsewhere"), token);
        Assert.Null(client);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("error=\"insufficient_scope\"", challenge);
        await using var late = await TestPeer.ConnectAsync(fixture.MeshUri("elsewhere"));
        await late.AuthAsync(token);
        Assert.Equal((WebSocketCloseStatus.PolicyViolation, "token is for another mesh"), await late.ClosedAsync());

        // /invocations lists the token's mesh.
        using var request = new HttpRequestMessage(HttpMethod.Post, "invocations");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var answer = await fixture.Relay.Http.SendAsync(request);
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal(new[] { alice, bob }.Order(StringComparer.Ordinal), body.RootElement.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!));

        // A refresh token of the same principal for another mesh is refused.
        await a.AuthAsync(fixture.Token(tenant: "elsewhere"));
        var error = await a.SkipToAsync(f => Frame.Type(f) == "error");
        Assert.Equal("token refused: token is for another mesh; the connection keeps its authentication",
            error.GetProperty("data").GetProperty("error").GetString());
    }

    [Fact]
    public async Task Tokens_without_the_mesh_claim_use_the_url_and_invalid_claims_are_refused()
    {
        var mesh = AuthFixture.NewMesh();
        await using var a = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(mesh), AuthFixture.NewPeer("alice"), fixture.Token());

        var bad = fixture.Issuer.Token(new TokenSpec
        {
            ClientId = "cognito-app",
            Audience = null,
            Claims = new Dictionary<string, object> { ["tenant"] = "not a mesh/name" },
        });
        var (client, status, challenge) = await TestPeer.TryConnectAsync(fixture.MeshUri(mesh), bad);
        Assert.Null(client);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("mesh claim is not a valid mesh name", challenge);
    }

    [Fact]
    public async Task Tokens_with_an_audience_are_fine_when_no_audience_is_configured_but_other_clients_are_not()
    {
        var withAudience = fixture.Issuer.Token(new TokenSpec { ClientId = "cognito-app", Audience = ["anything"] });
        await using var a = await CloseOnExpiryFixture.JoinAsync(fixture.MeshUri(AuthFixture.NewMesh()), AuthFixture.NewPeer("alice"), withAudience);

        var otherClient = fixture.Issuer.Token(new TokenSpec { ClientId = "relay-client", Audience = null });
        var (client, status, _) = await TestPeer.TryConnectAsync(fixture.MeshUri(AuthFixture.NewMesh()), otherClient);
        Assert.Null(client);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }
}

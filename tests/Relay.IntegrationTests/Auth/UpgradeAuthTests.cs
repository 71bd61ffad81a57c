using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Tokens at the upgrade (Authorization header, access_token or token query parameter): a valid one lets the
/// socket in; a bad one is answered HTTP 401 with a WWW-Authenticate challenge, and no socket is opened.</summary>
public class UpgradeAuthTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    private TestOidcIssuer Issuer => fixture.Issuer;

    [Fact]
    public async Task Valid_header_token_connects_and_routes()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await fixture.JoinAsync(mesh, alice);
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });

        await a.SkipToAsync(f => Frame.Type(f) == "presence" && f.GetProperty("from").GetString() == bob);
        await b.SendAsync(new { type = "broadcast", from = bob, data = new { text = "hi" } });
        var frame = await a.SkipToAsync(f => Frame.Type(f) == "broadcast");
        Assert.Equal(bob, frame.GetProperty("sender").GetString());
    }

    [Theory]
    [InlineData("access_token")]
    [InlineData("token")]
    public async Task Valid_query_token_connects(string parameter)
    {
        var mesh = AuthFixture.NewMesh();
        var uri = fixture.MeshUri(mesh, $"&{parameter}={Uri.EscapeDataString(Issuer.Token())}");
        await using var client = await TestPeer.ConnectAsync(uri);
        Assert.Null(await client.RegisterAsAsync(AuthFixture.NewPeer("alice")));
    }

    [Fact]
    public async Task Es256_token_connects()
    {
        await using var client = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(AuthFixture.NewMesh()), Issuer.Token(new TokenSpec { Key = Issuer.Ec }));
        Assert.Null(await client.RegisterAsAsync(AuthFixture.NewPeer("alice")));
    }

    [Theory]
    [InlineData("client_id", "relay-client")] // Cognito
    [InlineData("cid", "okta-app")]            // Okta
    [InlineData("azp", "entra-app")]           // OIDC, Entra ID v2
    [InlineData("appid", "entra-app")]         // Entra ID v1
    public async Task Client_id_is_read_from_the_providers_claims(string claim, string clientId)
    {
        var token = Issuer.Token(new TokenSpec { ClientIdClaim = claim, ClientId = clientId });
        await using var client = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(AuthFixture.NewMesh()), token);
        Assert.Null(await client.RegisterAsAsync(AuthFixture.NewPeer("alice")));
    }

    public static TheoryData<string> BadTokenCases =>
    [
        "expired", "not_yet_valid", "no_exp", "wrong_issuer", "wrong_audience", "no_audience", "client_not_allowed", "no_client",
        "bad_signature", "alg_none", "unknown_kid", "malformed",
    ];

    [Theory]
    [MemberData(nameof(BadTokenCases))]
    public async Task Bad_token_at_the_upgrade_is_answered_401_with_a_challenge(string kind)
    {
        var (token, description) = BadToken(kind);
        foreach (var (uri, bearer) in Ways(token))
        {
            var (client, status, challenge) = await TestPeer.TryConnectAsync(uri, bearer);
            Assert.Null(client);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.NotNull(challenge);
            Assert.StartsWith("Bearer realm=\"relay\"", challenge);
            Assert.Contains("error=\"invalid_token\"", challenge);
            Assert.Contains($"error_description=\"{description}\"", challenge);
            Assert.DoesNotContain(token, challenge);
        }
    }

    [Fact]
    public async Task Hmac_signed_with_the_rsa_public_key_is_refused()
    {
        foreach (var token in Issuer.HmacWithPublicKeyTokens())
        {
            var (client, status, challenge) = await TestPeer.TryConnectAsync(fixture.MeshUri(AuthFixture.NewMesh()), token);
            Assert.Null(client);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Contains("error_description=\"signing algorithm not allowed\"", challenge);
        }
    }

    [Fact]
    public async Task Invocations_needs_a_token_when_auth_is_on_and_ping_does_not()
    {
        using var ping = await fixture.Relay.Http.GetAsync(new Uri("ping", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);

        var mesh = AuthFixture.NewMesh();
        var alice = AuthFixture.NewPeer("alice");
        await using var a = await fixture.JoinAsync(mesh, alice);
        using var anonymous = await fixture.Relay.Http.PostAsync(new Uri($"invocations?mesh={mesh}", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);

        using var bad = new HttpRequestMessage(HttpMethod.Post, $"invocations?mesh={mesh}");
        bad.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(-10) }));
        using var refused = await fixture.Relay.Http.SendAsync(bad);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var good = new HttpRequestMessage(HttpMethod.Post, $"invocations?mesh={mesh}");
        good.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Issuer.Token());
        using var answer = await fixture.Relay.Http.SendAsync(good);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal([alice], body.RootElement.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!));
    }

    /// <summary>The token in the header, in access_token and in token.</summary>
    private IEnumerable<(Uri Uri, string? Bearer)> Ways(string token)
    {
        var mesh = AuthFixture.NewMesh();
        yield return (fixture.MeshUri(mesh), token);
        yield return (fixture.MeshUri(mesh, "&access_token=" + Uri.EscapeDataString(token)), null);
        yield return (fixture.MeshUri(mesh, "&token=" + Uri.EscapeDataString(token)), null);
    }

    /// <summary>A token that must be refused, and the error_description the relay gives for it.</summary>
    private (string Token, string Description) BadToken(string kind)
    {
        var other = TestSigningKey.CreateRsa(Issuer.Rsa.Kid); // same kid, another key: a forged signature
        return kind switch
        {
            "expired" => (Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(-5) }), "token expired"),
            "not_yet_valid" => (Issuer.Token(new TokenSpec { NotBefore = TimeSpan.FromMinutes(5), Lifetime = TimeSpan.FromMinutes(20) }), "token not yet valid"),
            "no_exp" => (Issuer.Token(new TokenSpec { Lifetime = null }), "token has no expiry"),
            "wrong_issuer" => (Issuer.Token(new TokenSpec { Issuer = "https://evil.example.com" }), "wrong issuer"),
            "wrong_audience" => (Issuer.Token(new TokenSpec { Audience = ["other-api"] }), "audience not allowed"),
            "no_audience" => (Issuer.Token(new TokenSpec { Audience = null }), "audience not allowed"),
            "client_not_allowed" => (Issuer.Token(new TokenSpec { ClientId = "someone-else" }), "client not allowed"),
            "no_client" => (Issuer.Token(new TokenSpec { ClientId = null }), "client not allowed"),
            "bad_signature" => (Issuer.Token(new TokenSpec { Key = other }), "invalid signature"),
            "alg_none" => (Issuer.UnsignedToken(), "unsigned token"),
            "unknown_kid" => (Issuer.Token(new TokenSpec { Key = TestSigningKey.CreateRsa("not-published") }), "unknown signing key"),
            "malformed" => ("not.a.jwt-at-all", "malformed token"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }
}

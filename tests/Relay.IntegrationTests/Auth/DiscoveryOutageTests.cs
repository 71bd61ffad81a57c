using System.Net;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>The identity provider down: at start the relay still starts and answers "unavailable" (503, or 1013 after
/// a first-frame token) until it can fetch the metadata; later, cached keys stay in use and connections already
/// authenticated are not affected at all.</summary>
public class DiscoveryOutageTests
{
    [Fact]
    public async Task Down_at_start_the_relay_starts_and_refuses_as_unavailable_until_the_provider_is_back()
    {
        await using var issuer = await TestOidcIssuer.StartAsync();
        issuer.Available = false;
        await using var relay = await AuthRelay.StartAgentCoreAsync(issuer, ["relay-client"], ["relay-api"]);
        var uri = relay.WebSocketUri(query: $"?mesh={AuthFixture.NewMesh()}");

        var (client, status, _) = await TestPeer.TryConnectAsync(uri, issuer.Token());
        Assert.Null(client);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);

        await using (var browser = await TestPeer.ConnectAsync(uri))
        {
            await browser.AuthAsync(issuer.Token());
            var (closeStatus, reason) = await browser.ClosedAsync();
            Assert.Equal((WebSocketCloseStatus)1013, closeStatus);
            Assert.Equal("identity provider unavailable; try again later", reason);
        }

        issuer.Available = true;
        await using var back = await Until.RelayAcceptsAsync(uri, issuer.Token());
        Assert.Null(await back.RegisterAsAsync(AuthFixture.NewPeer("alice")));
    }

    [Fact]
    public async Task Down_later_authenticated_connections_and_cached_keys_keep_working()
    {
        await using var issuer = await TestOidcIssuer.StartAsync();
        await using var relay = await AuthRelay.StartAgentCoreAsync(issuer, ["relay-client"], ["relay-api"], "Relay:Auth:KeyRefreshInterval=00:00:02");
        var mesh = AuthFixture.NewMesh();
        var uri = relay.WebSocketUri(query: $"?mesh={mesh}");
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await Until.RelayAcceptsAsync(uri, issuer.Token());
        Assert.Null(await a.RegisterAsAsync(alice));
        await using var b = await TestPeer.ConnectAsync(uri);
        await b.AuthAsync(issuer.Token(new TokenSpec { Subject = "bob" }));
        Assert.Null(await b.RegisterAsAsync(bob));

        issuer.Available = false;
        var (discovery, requests) = (issuer.DiscoveryRequests, issuer.JwksRequests);

        // A token with an unknown key makes the relay try the provider, which fails: refused, cached keys kept.
        var (refused, status, challenge) = await TestPeer.TryConnectAsync(uri, issuer.Token(new TokenSpec { Key = TestSigningKey.CreateRsa("new") }));
        Assert.Null(refused);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("unknown signing key", challenge);
        Assert.True(issuer.DiscoveryRequests > discovery, "the unknown key made the relay try the provider");

        // Known keys still validate, without the provider.
        await using var c = await TestPeer.ConnectWithTokenAsync(uri, issuer.Token(new TokenSpec { Subject = "carol", Key = issuer.Ec }));
        Assert.Null(await c.RegisterAsAsync(AuthFixture.NewPeer("carol")));
        Assert.Equal(requests, issuer.JwksRequests);

        // The connections authenticated before the outage never noticed it.
        await a.SendAsync(new { type = "broadcast", from = alice, data = new { text = "during the outage" } });
        await b.SkipToAsync(f => Frame.Type(f) == "broadcast");
        await b.SendAsync(new { type = "direct", from = bob, to = alice, data = new { text = "hi" } });
        await a.SkipToAsync(f => Frame.Type(f) == "direct");
        Assert.Equal(WebSocketState.Open, a.State);
        Assert.Equal(WebSocketState.Open, b.State);
    }
}

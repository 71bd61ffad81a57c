using System.Net;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Signing keys are cached; a token naming an unknown kid causes one refresh (which it waits for), at most
/// once per KeyRefreshInterval: key rotation works without a restart, and random kids cannot make the relay hammer
/// the identity provider.</summary>
public class KeyRotationTests : IAsyncLifetime
{
    private TestOidcIssuer _issuer = null!;
    private AuthRelay _relay = null!;

    public async Task InitializeAsync()
    {
        _issuer = await TestOidcIssuer.StartAsync();
        _relay = await AuthRelay.StartAgentCoreAsync(_issuer, ["relay-client"], ["relay-api"], "Relay:Auth:KeyRefreshInterval=00:05:00");
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task An_unknown_kid_refreshes_the_keys_once_and_rotation_works_without_restart()
    {
        var uri = _relay.WebSocketUri(query: $"?mesh={AuthFixture.NewMesh()}");
        await using (await Until.RelayAcceptsAsync(uri, _issuer.Token()))
        {
        }
        var jwksBefore = _issuer.JwksRequests;

        // The provider rotates: a new key is published and signs new tokens.
        var rotated = TestSigningKey.CreateRsa("rsa-2");
        _issuer.Publish(rotated, _issuer.Ec);
        await using (var client = await TestPeer.ConnectWithTokenAsync(uri, _issuer.Token(new TokenSpec { Key = rotated })))
        {
            Assert.Null(await client.RegisterAsAsync(AuthFixture.NewPeer("alice")));
        }
        Assert.Equal(jwksBefore + 1, _issuer.JwksRequests);

        // Another unknown kid right after: refused from the cache, no request to the provider.
        var (refused, status, challenge) = await TestPeer.TryConnectAsync(uri, _issuer.Token(new TokenSpec { Key = TestSigningKey.CreateRsa("rsa-3") }));
        Assert.Null(refused);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("unknown signing key", challenge);
        Assert.Equal(jwksBefore + 1, _issuer.JwksRequests);

        // The retired key is gone from the refreshed set.
        (refused, status, challenge) = await TestPeer.TryConnectAsync(uri, _issuer.Token());
        Assert.Null(refused);
        Assert.Contains("unknown signing key", challenge);

        // Known keys need no request at all.
        await using (await TestPeer.ConnectWithTokenAsync(uri, _issuer.Token(new TokenSpec { Key = _issuer.Ec })))
        {
        }
        Assert.Equal(jwksBefore + 1, _issuer.JwksRequests);
    }
}

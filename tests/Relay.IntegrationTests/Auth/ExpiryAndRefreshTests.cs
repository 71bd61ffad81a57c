using System.Net;
using System.Net.WebSockets;
using Relay.Protocol;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>
/// A token expiring while its connection is open: by default nothing happens (real clients never reconnect); a fresh
/// auth frame of the same principal may replace it; anything else in an auth frame is refused with an error and
/// changes nothing. The relay configured to close at expiry: see <see cref="CloseOnExpiryTests"/>.
/// </summary>
public class ExpiryAndRefreshTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    [Fact]
    public async Task By_default_a_connection_outlives_its_token()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        var shortLived = fixture.Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromSeconds(4) });
        await using var a = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), shortLived);
        Assert.Null(await a.RegisterAsAsync(alice));
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });

        await Until.RelayRefusesAsync(fixture.MeshUri(mesh), shortLived); // the token has expired

        await a.SendAsync(new { type = "broadcast", from = alice, data = new { text = "after expiry" } });
        await b.SkipToAsync(f => Frame.Type(f) == "broadcast");
        await b.SendAsync(new { type = "direct", from = bob, to = alice, data = new { text = "still here" } });
        await a.SkipToAsync(f => Frame.Type(f) == "direct");
        Assert.Equal(WebSocketState.Open, a.State);
    }

    [Fact]
    public async Task A_fresh_token_of_the_same_principal_is_accepted_silently()
    {
        var mesh = AuthFixture.NewMesh();
        await using var a = await fixture.JoinAsync(mesh, AuthFixture.NewPeer("alice"));
        await a.AuthAsync(fixture.Issuer.Token(new TokenSpec { Key = fixture.Issuer.Ec, Lifetime = TimeSpan.FromHours(1) }));
        await a.SkipToSyncAsync();
        Assert.DoesNotContain(a.Drain(), f => Frame.Type(f) == "error");
    }

    public static TheoryData<string, string> RefusedRefreshes => new()
    {
        { "another_subject", "token refused: token is for another identity" },
        { "another_client", "token refused: token is for another identity" },
        { "expired", "token refused: token expired" },
        { "forged", "token refused: invalid signature" },
        { "no_token", "an auth frame needs a string token" },
    };

    [Theory]
    [MemberData(nameof(RefusedRefreshes))]
    public async Task A_refused_refresh_is_an_error_and_the_connection_keeps_its_authentication(string kind, string message)
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await fixture.JoinAsync(mesh, alice);
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });

        object frame = kind switch
        {
            "another_subject" => new { type = "auth", token = fixture.Issuer.Token(new TokenSpec { Subject = "mallory" }) },
            "another_client" => new { type = "auth", token = fixture.Issuer.Token(new TokenSpec { ClientId = "spa-app" }) },
            "expired" => new { type = "auth", token = fixture.Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(-5) }) },
            "forged" => new { type = "auth", token = fixture.Issuer.Token(new TokenSpec { Key = TestSigningKey.CreateRsa(fixture.Issuer.Rsa.Kid) }) },
            _ => new { type = "auth" },
        };
        await a.SendAsync(frame);
        var error = await a.SkipToAsync(f => Frame.Type(f) == "error");
        Assert.Equal(ErrorCodes.Unauthorized, Frame.ErrorCode(error));
        Assert.StartsWith(message, error.GetProperty("data").GetProperty("error").GetString());

        await a.SendAsync(new { type = "broadcast", from = alice, data = new { text = "still me" } });
        var routed = await b.SkipToAsync(f => Frame.Type(f) == "broadcast");
        Assert.Equal(alice, routed.GetProperty("sender").GetString());
        Assert.Equal(WebSocketState.Open, a.State);
    }
}

/// <summary>Bounded polling for conditions only the relay can tell.</summary>
internal static class Until
{
    /// <summary>Waits until the relay refuses <paramref name="token"/> at the upgrade (e.g. once it has expired).</summary>
    public static async Task RelayRefusesAsync(Uri uri, string token)
    {
        var deadline = DateTime.UtcNow + TestPeer.DefaultTimeout;
        while (true)
        {
            var (client, status, _) = await TestPeer.TryConnectAsync(uri, token);
            if (client is null)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, status);
                return;
            }
            await client.DisposeAsync();
            Assert.True(DateTime.UtcNow < deadline, "the relay kept accepting the token");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the relay accepts <paramref name="token"/> at the upgrade.</summary>
    public static async Task<TestPeer> RelayAcceptsAsync(Uri uri, string token)
    {
        var deadline = DateTime.UtcNow + TestPeer.DefaultTimeout;
        while (true)
        {
            var (client, status, _) = await TestPeer.TryConnectAsync(uri, token);
            if (client is not null) return client;
            Assert.True(DateTime.UtcNow < deadline, $"the relay kept refusing the token (HTTP {(int?)status})");
            await Task.Delay(100);
        }
    }
}

using System.Net;
using Relay.Protocol;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Auth is off unless configured: nothing of the relay's behaviour without auth changes.</summary>
public class AuthOffTests
{
    [Fact]
    public async Task Without_configuration_no_token_is_needed_and_auth_frames_change_nothing()
    {
        await using var relay = await AuthRelay.StartAsync();
        var mesh = AuthFixture.NewMesh();
        var uri = relay.WebSocketUri(query: $"?mesh={mesh}");
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));

        await using var a = await TestPeer.ConnectAsync(uri);
        Assert.Null(await a.RegisterAsAsync(alice));
        // Garbage in the header is no reason to refuse when auth is off (and it is still redacted).
        await using var b = await TestPeer.ConnectWithTokenAsync(uri, "not-a-jwt-but-a-secret");
        await b.AuthAsync("whatever-token-value");
        Assert.Null(await b.RegisterAsAsync(bob));
        await using var c = await TestPeer.ConnectWithTokenAsync(uri, "another-secret-value");
        Assert.Null(await c.RegisterAsAsync(alice)); // no principals: an id may be shared as before

        await b.SendAsync(new { type = "relay-log", from = bob, data = new { text = "bearer not-a-jwt-but-a-secret" } });
        var log = await a.SkipToAsync(f => Frame.Type(f) == "relay-log");
        Assert.Equal($"bearer {CredentialRedactor.Replacement}", log.GetProperty("data").GetProperty("text").GetString());
        await a.SkipToSyncAsync();
        Assert.DoesNotContain(a.Drain(), f => Frame.Type(f) == "auth");
        Assert.DoesNotContain(b.Drain(), f => Frame.Type(f) == "error");

        using var invocations = await relay.Http.PostAsync(new Uri($"invocations?mesh={mesh}", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, invocations.StatusCode);
        Assert.Contains(relay.Logs.Lines, line => line.Contains("Auth off", StringComparison.Ordinal));
    }
}

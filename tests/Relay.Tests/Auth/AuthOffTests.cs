using System.Net;
using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Auth;

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

        await using var a = await AuthClient.ConnectAsync(uri);
        Assert.Null(await a.PresenceAsync(alice));
        // Garbage in the header is no reason to refuse when auth is off (and it is still redacted).
        await using var b = await AuthClient.ConnectAsync(uri, bearer: "not-a-jwt-but-a-secret");
        await b.AuthAsync("whatever-token-value");
        Assert.Null(await b.PresenceAsync(bob));
        await using var c = await AuthClient.ConnectAsync(uri, bearer: "another-secret-value");
        Assert.Null(await c.PresenceAsync(alice)); // no principals: an id may be shared as before

        await b.SendAsync(new { type = "relay-log", from = bob, data = new { text = "bearer not-a-jwt-but-a-secret" } });
        var log = await a.WaitForAsync(f => AuthClient.Type(f) == "relay-log");
        Assert.Equal($"bearer {CredentialRedactor.Replacement}", log.GetProperty("data").GetProperty("text").GetString());
        await a.BarrierAsync();
        Assert.DoesNotContain(a.Drain(), f => AuthClient.Type(f) == "auth");
        Assert.DoesNotContain(b.Drain(), f => AuthClient.Type(f) == "error");

        using var invocations = await relay.Http.PostAsync(new Uri($"invocations?mesh={mesh}", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, invocations.StatusCode);
        Assert.Contains(relay.Logs.Lines, line => line.Contains("Auth off", StringComparison.Ordinal));
    }
}

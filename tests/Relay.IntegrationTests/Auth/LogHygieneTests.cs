using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Tokens never appear in logs or error messages, whatever happened to them.</summary>
public class LogHygieneTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    [Fact]
    public async Task No_token_reaches_a_log_line()
    {
        var mesh = AuthFixture.NewMesh();
        var issuer = fixture.Issuer;

        // Accepted and refused at the upgrade, in the first frame, and in a refresh.
        await using (var a = await fixture.JoinAsync(mesh, AuthFixture.NewPeer("alice")))
        {
            await a.AuthAsync(issuer.Token(new TokenSpec { Subject = "mallory" }));
            await a.AuthAsync(issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(-5) }));
            await a.SkipToSyncAsync();
        }
        await TestPeer.TryConnectAsync(fixture.MeshUri(mesh), issuer.Token(new TokenSpec { ClientId = "nope" }));
        await using (await TestPeer.ConnectAsync(fixture.MeshUri(mesh, "&access_token=" + issuer.Token())))
        {
        }
        await TestPeer.TryConnectAsync(fixture.MeshUri(mesh, "&token=" + issuer.Token(new TokenSpec { Subject = null, ClientId = null })));
        await TestPeer.TryConnectAsync(fixture.MeshUri(mesh), issuer.UnsignedToken());
        foreach (var token in issuer.HmacWithPublicKeyTokens()) await TestPeer.TryConnectAsync(fixture.MeshUri(mesh), token);
        await using (var browser = await TestPeer.ConnectAsync(fixture.MeshUri(mesh)))
        {
            await browser.AuthAsync(issuer.Token(new TokenSpec { Audience = ["elsewhere"] }));
            await browser.ClosedAsync();
        }

        var lines = fixture.Relay.Logs.Lines.ToArray();
        Assert.Contains(lines, line => line.Contains("Token refused", StringComparison.Ordinal));
        foreach (var token in issuer.Minted)
        {
            var signature = token.Split('.')[2];
            Assert.DoesNotContain(lines, line => line.Contains(token, StringComparison.Ordinal)
                || (signature.Length > 0 && line.Contains(signature, StringComparison.Ordinal)));
        }
    }
}

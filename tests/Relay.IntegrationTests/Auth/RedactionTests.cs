using Relay.Protocol;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Credentials never travel: the token a connection authenticated with, whichever way it came (header,
/// query, first frame, later auth frame), is replaced in every frame the connection sends.</summary>
public class RedactionTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    [Theory]
    [InlineData("first_frame")]
    [InlineData("header")]
    [InlineData("query")]
    public async Task The_token_is_redacted_from_a_relay_connected_frame(string way)
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });

        var token = fixture.Issuer.Token();
        var query = way == "query" ? "&access_token=" + Uri.EscapeDataString(token) : "";
        await using var a = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh, query), way == "header" ? token : null);
        if (way == "first_frame") await a.AuthAsync(token);
        Assert.Null(await a.RegisterAsAsync(alice));

        // What agi.diy clients send after connecting: their URL (with the token) and the token itself.
        var url = $"ws://relay.example/ws?mesh={mesh}&access_token={token}";
        await a.SendAsync(new { type = "relay-connected", from = alice, data = new { url, token, note = $"connected with {token}!" } });
        var frame = await b.SkipToAsync(f => Frame.Type(f) == "relay-connected");
        var text = frame.GetRawText();
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2], text, StringComparison.Ordinal);
        var data = frame.GetProperty("data");
        Assert.Equal(CredentialRedactor.Replacement, data.GetProperty("token").GetString());
        Assert.Equal($"connected with {CredentialRedactor.Replacement}!", data.GetProperty("note").GetString());
        Assert.Equal($"ws://relay.example/ws?mesh={mesh}&access_token={CredentialRedactor.Replacement}", data.GetProperty("url").GetString());
    }

    [Fact]
    public async Task A_refreshed_token_is_redacted_too()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });
        var first = fixture.Issuer.Token();
        await using var a = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), first);
        Assert.Null(await a.RegisterAsAsync(alice));

        var fresh = fixture.Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(30) });
        await a.AuthAsync(fresh);
        await a.SendAsync(new { type = "relay-config-updated", from = alice, data = new { first, fresh } });
        var data = (await b.SkipToAsync(f => Frame.Type(f) == "relay-config-updated")).GetProperty("data");
        Assert.Equal(CredentialRedactor.Replacement, data.GetProperty("first").GetString());
        Assert.Equal(CredentialRedactor.Replacement, data.GetProperty("fresh").GetString());
    }
}

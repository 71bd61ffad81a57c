using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>No token at the upgrade (a browser): the first frame must be <c>{"type":"auth","token":...}</c> within the
/// first-frame timeout; a bad, late or missing one closes the socket with 1008 and a reason, and nothing the socket
/// sent reaches the mesh.</summary>
public class FirstFrameAuthTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    private TestOidcIssuer Issuer => fixture.Issuer;

    [Fact]
    public async Task Valid_first_frame_token_connects_and_routes()
    {
        var mesh = AuthFixture.NewMesh();
        var (alice, bob) = (AuthFixture.NewPeer("alice"), AuthFixture.NewPeer("bob"));
        await using var a = await TestPeer.ConnectAsync(fixture.MeshUri(mesh));
        await a.AuthAsync(Issuer.Token());
        Assert.Null(await a.RegisterAsAsync(alice));

        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });
        await b.SendAsync(new { type = "broadcast", from = bob, data = new { text = "hi" } });
        var frame = await a.SkipToAsync(f => Frame.Type(f) == "broadcast");
        Assert.Equal(bob, frame.GetProperty("sender").GetString());
    }

    [Fact]
    public async Task No_first_frame_within_the_timeout_closes_1008()
    {
        await using var client = await TestPeer.ConnectAsync(fixture.MeshUri(AuthFixture.NewMesh()));
        var (status, reason) = await client.ClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("no auth frame within 3 s", reason);
    }

    [Fact]
    public async Task Bad_first_frame_token_closes_1008_with_the_reason()
    {
        await using var client = await TestPeer.ConnectAsync(fixture.MeshUri(AuthFixture.NewMesh()));
        var token = Issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromMinutes(-5) });
        await client.AuthAsync(token);
        var (status, reason) = await client.ClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("invalid token: token expired", reason);
    }

    [Theory]
    [InlineData("""{"type":"relay-log","from":"mallory","data":{"url":"ws://relay"}}""")]
    [InlineData("""{"type":"presence","from":"mallory","data":{}}""")]
    [InlineData("""{"type":"auth"}""")]
    [InlineData("""{"type":"auth","token":42}""")]
    [InlineData("not json")]
    public async Task A_first_frame_without_a_token_closes_1008_and_reaches_nobody(string first)
    {
        var mesh = AuthFixture.NewMesh();
        var bob = AuthFixture.NewPeer("bob");
        await using var b = await fixture.JoinAsync(mesh, bob);
        await using var client = await TestPeer.ConnectAsync(fixture.MeshUri(mesh));
        await client.SendAsync(first);
        var (status, reason) = await client.ClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.StartsWith("authentication required", reason);

        await b.SkipToSyncAsync();
        Assert.DoesNotContain(b.Drain(), f => Frame.Type(f) != "capabilities_response");
    }

    [Fact]
    public async Task A_token_for_another_mesh_is_not_needed_without_a_mesh_claim()
    {
        // Without Relay:Auth:MeshClaim, ?mesh= chooses the mesh as before (the mesh claim is covered elsewhere).
        var token = Issuer.Token(new TokenSpec { Claims = new Dictionary<string, object> { ["tenant"] = "other" } });
        await using var client = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(AuthFixture.NewMesh()), token);
        Assert.Null(await client.RegisterAsAsync(AuthFixture.NewPeer("alice")));
    }
}

using System.Net;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Relay.Protocol;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>
/// Issue 17, items 2 and 3 with auth on. A throttled background tab goes silent past the stale timeout while its
/// socket answers pings: it is reaped, and another principal registering its id at that moment used to get it (and
/// its directs). The id now stays bound to its principal for <c>PeerIdGracePeriod</c>. And one principal, from any
/// address, is in at most <c>MaxMeshesPerPrincipal</c> meshes of a node.
/// </summary>
public sealed class SilentTabIdTests : IAsyncLifetime
{
    private TestOidcIssuer _issuer = null!;
    private AuthRelay _relay = null!;

    public async Task InitializeAsync()
    {
        _issuer = await TestOidcIssuer.StartAsync();
        _relay = await AuthRelay.StartAgentCoreAsync(_issuer, AuthFixture.AllowedClients, AuthFixture.AllowedAudience,
            [
                "Relay:Auth:ClockSkew=00:00:00", "Relay:PingInterval=00:00:00.500", "Relay:MaxMeshesPerPrincipal=2",
                .. FastLiveness.Settings,
            ]);
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task A_silent_tab_keeps_its_id_against_another_principal_after_its_reap()
    {
        var mesh = AuthFixture.NewMesh();
        var alice = AuthFixture.NewPeer("alice");
        var carolId = AuthFixture.NewPeer("carol");
        await using var victim = await Join(mesh, alice, "victim");
        await using var carol = await Join(mesh, carolId, "carol");
        carol.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);

        // The victim only answers pings (its socket stays open) until it is reaped: carol sees alice go offline.
        await carol.WaitForAsync(f => Frame.IsOfflineOf(f, alice), TimeSpan.FromSeconds(15), "alice reaped");
        Assert.Equal(WebSocketState.Open, victim.State);

        // At the reap, another principal asks for the id: refused.
        await using var attacker = await TestPeer.ConnectWithTokenAsync(MeshUri(mesh), _issuer.Token(new TokenSpec { Subject = "attacker" }));
        var refused = await attacker.RegisterAsAsync(alice);
        Assert.NotNull(refused);
        Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode(refused.Value));

        // The tab wakes up: its presence registers it again, and carol's direct to alice reaches it, not the attacker.
        Assert.Null(await victim.RegisterAsAsync(alice));
        await carol.SendAsync(new { type = "direct", from = carolId, to = alice, data = new { text = "only for alice" } });
        var direct = await victim.WaitForAsync(f => Frame.Type(f) == "direct");
        Assert.Equal(carolId, direct.GetProperty("sender").GetString());
        await attacker.SendAsync(new { type = "capabilities" });
        await attacker.SkipToAsync(f => Frame.IsType(f, "capabilities_response"));
        Assert.DoesNotContain(attacker.Drain(), f => Frame.Type(f) == "direct");
    }

    [Fact]
    public async Task One_principal_is_bounded_in_meshes_from_any_address_and_another_principal_still_gets_in()
    {
        var (one, two, three) = (AuthFixture.NewMesh(), AuthFixture.NewMesh(), AuthFixture.NewMesh());
        var squatter = new TokenSpec { Subject = "squatter" };
        await using var a = await TestPeer.ConnectWithTokenAsync(MeshUri(one), _issuer.Token(squatter));
        await using var b = await TestPeer.ConnectWithTokenAsync(MeshUri(two), _issuer.Token(squatter));

        // A third mesh: 503 with the token at the upgrade, 1013 when the first frame brings it, from any address.
        var (refused, status, _) = await TestPeer.TryConnectAsync(MeshUri(three), _issuer.Token(squatter));
        Assert.Null(refused);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        await using (var late = await TestPeer.ConnectAsync(MeshUri(three), peerId: null, startReading: true, from: IPAddress.Parse("127.0.0.2")))
        {
            await late.AuthAsync(_issuer.Token(squatter));
            var (closed, reason) = await late.ClosedAsync();
            Assert.Equal((WebSocketCloseStatus)1013, closed);
            Assert.Contains("maximum of 2 meshes", reason, StringComparison.Ordinal);
        }

        // A mesh the principal is in still takes its connections; another principal gets the third mesh.
        await using var a2 = await TestPeer.ConnectWithTokenAsync(MeshUri(one), _issuer.Token(squatter));
        Assert.Null(await a2.RegisterAsAsync(AuthFixture.NewPeer("a2")));
        await using var legit = await Join(three, AuthFixture.NewPeer("legit"), "legit");
    }

    private async Task<TestPeer> Join(string mesh, string peerId, string subject)
    {
        var token = _issuer.Token(new TokenSpec { Subject = subject });
        var client = await TestPeer.ConnectAsync(MeshUri(mesh), peerId, startReading: true,
            options => options.SetRequestHeader("Authorization", "Bearer " + token));
        Assert.Null(await client.RegisterAsAsync(peerId));
        return client;
    }

    private Uri MeshUri(string mesh) => _relay.WebSocketUri(query: $"?mesh={mesh}");
}

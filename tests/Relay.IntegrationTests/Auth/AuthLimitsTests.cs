using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Connections;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Resource limits with auth on. A client without a token at the upgrade names its mesh only in its first
/// frame (its token may carry a mesh claim), after the upgrade was accepted: a mesh over <c>MaxMeshes</c> is then
/// closed with 1013 instead of refused with 503. Refused and closed sockets give their slots back.</summary>
public sealed class AuthLimitsTests : IAsyncLifetime
{
    private TestOidcIssuer _issuer = null!;
    private AuthRelay _relay = null!;

    public async Task InitializeAsync()
    {
        _issuer = await TestOidcIssuer.StartAsync();
        _relay = await AuthRelay.StartAgentCoreAsync(_issuer, AuthFixture.AllowedClients, AuthFixture.AllowedAudience,
            "Relay:Auth:ClockSkew=00:00:00", "Relay:MaxMeshes=1", "Relay:MaxConnections=2", "Relay:MaxConnectionsPerAddress=2");
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task A_first_frame_client_of_a_mesh_over_the_limit_is_closed_1013_and_the_served_mesh_still_takes_clients()
    {
        var (served, other) = (AuthFixture.NewMesh(), AuthFixture.NewMesh());
        await using var alice = await TestPeer.ConnectWithTokenAsync(MeshUri(served), _issuer.Token());
        Assert.Null(await alice.RegisterAsAsync(AuthFixture.NewPeer("alice")));

        await using (var late = await TestPeer.ConnectAsync(MeshUri(other)))
        {
            await late.AuthAsync(_issuer.Token());
            var (status, reason) = await late.ClosedAsync();
            Assert.Equal((WebSocketCloseStatus)1013, status);
            Assert.Contains("maximum of 1 meshes", reason, StringComparison.Ordinal);
        }

        // With the token at the upgrade the mesh is known before accepting: 503.
        var (refused, code, _) = await TestPeer.TryConnectAsync(MeshUri(other), _issuer.Token());
        Assert.Null(refused);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);

        // Of the two slots, alice holds one: the closed and the refused sockets gave theirs back.
        var admission = _relay.Services.GetRequiredService<ConnectionAdmission>();
        var watch = Stopwatch.StartNew();
        while (admission.Count != 1)
        {
            Assert.True(watch.Elapsed < TestPeer.DefaultTimeout, $"{admission.Count} slots still taken");
            await Task.Delay(20);
        }
        await using var bob = await TestPeer.ConnectAsync(MeshUri(served));
        await bob.AuthAsync(_issuer.Token());
        Assert.Null(await bob.RegisterAsAsync(AuthFixture.NewPeer("bob")));
    }

    private Uri MeshUri(string mesh) => _relay.WebSocketUri(query: $"?mesh={mesh}");
}

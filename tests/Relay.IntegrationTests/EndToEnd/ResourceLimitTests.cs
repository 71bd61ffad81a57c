using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// Limits on resources (issue #8): connections per node and per client address and meshes per node, refused at the
/// upgrade with HTTP 503 and Retry-After; new peers in a full mesh, refused with error <c>mesh_full</c> on an open
/// socket. Slots freed by closes are reusable, and clients within the limits notice nothing. The metadata size limit
/// is in <see cref="ErrorTests"/> (<c>metadata_too_large</c>).
/// </summary>
public sealed class ResourceLimitTests : EndToEndTest
{
    // The whole of 127.0.0.0/8 is loopback: clients bound to these are, for the relay, at other addresses.
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Third = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task Connections_over_the_node_limit_get_503_with_Retry_After_and_a_closed_connection_frees_its_slot()
    {
        await StartRelayAsync("Relay:MaxConnections=3", "Relay:MaxConnectionsPerAddress=3", "Relay:RetryAfter=00:00:07");
        var a = await JoinAsync();
        var b = await JoinAsync();
        var c = await JoinAsync();

        var refused = await RefusedUpgrade.AttemptAsync(MeshUri());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("7", refused.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri(), Second)).Status);
        await a.MarkAsync(b, c); // the connections inside the limit are unaffected

        await a.CloseAsync();
        await b.WaitForAsync(f => Frame.IsOfflineOf(f, a.Id));
        await WaitForAsync(() => Admission.Count == 2, "a's slot given back");
        var d = await JoinAsync();
        await d.MarkAsync(b, c);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri())).Status);
    }

    [Fact]
    public async Task One_address_cannot_take_the_node_and_clients_at_other_addresses_still_connect()
    {
        await StartRelayAsync("Relay:MaxConnections=5", "Relay:MaxConnectionsPerAddress=2");
        var greedy = await JoinAsync();
        var greedier = await JoinAsync();
        var refused = await RefusedUpgrade.AttemptAsync(MeshUri());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("10", refused.RetryAfter); // the default

        var second = await ConnectToAsync(MeshUri(), from: Second);
        await second.RegisterAsync();
        var third = await ConnectToAsync(MeshUri(), from: Third);
        await third.RegisterAsync();
        await second.MarkAsync(greedy, greedier, third);
        Assert.Equal(2, Admission.CountOf(IPAddress.Loopback));
        Assert.Equal(1, Admission.CountOf(Second));

        // The address gets its slot back when one of its connections closes, and only that one.
        await greedier.CloseAsync();
        await WaitForAsync(() => Admission.CountOf(IPAddress.Loopback) == 1, "the closed connection's slot given back");
        var again = await JoinAsync();
        await again.MarkAsync(greedy, second, third);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri())).Status);
    }

    [Fact]
    public async Task Every_way_a_connection_ends_gives_its_slot_and_its_mesh_back()
    {
        await StartRelayAsync("Relay:MaxConnections=2", "Relay:MaxConnectionsPerAddress=2", "Relay:MaxMeshes=1", "Relay:MaxFrameBytes=4096");
        for (var round = 0; round < 3; round++)
        {
            // Registered and closed by the client; aborted without a close handshake; and a refused upgrade meanwhile.
            var closing = await JoinAsync();
            var aborting = await JoinAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri())).Status);
            await closing.CloseAsync();
            aborting.Abort();
            await WaitForAsync(() => Admission.Count == 0 && Meshes.Snapshot().Length == 0, "closed and aborted connections gone");

            // Closed by the relay (1009), and never registered; a mesh refused (after its slot was taken) and a bad
            // request meanwhile.
            var oversize = await JoinAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri(Mesh + "-other"))).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await RefusedUpgrade.AttemptAsync(MeshUri("not a mesh!"))).Status);
            var unregistered = await ConnectAsync();
            await oversize.SendAsync("{\"type\":\"broadcast\",\"data\":\"" + new string('x', 5000) + "\"}");
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, await oversize.WaitForCloseAsync(TestPeer.DefaultTimeout));
            await unregistered.CloseAsync();
            await WaitForAsync(() => Admission.Count == 0 && Meshes.Snapshot().Length == 0, "relay-closed and unregistered connections gone");
        }

        // The whole budget is there again, in another mesh.
        var x = await JoinAsync(mesh: Mesh + "-after");
        var y = await JoinAsync(mesh: Mesh + "-after");
        await x.MarkAsync(y);
    }

    [Fact]
    public async Task A_mesh_over_the_node_limit_gets_503_while_served_meshes_still_take_connections()
    {
        await StartRelayAsync("Relay:MaxMeshes=2");
        var (one, two, three) = (Mesh, Mesh + "-2", Mesh + "-3");
        var a = await JoinAsync(mesh: one);
        var b = await JoinAsync(mesh: two);

        var refused = await RefusedUpgrade.AttemptAsync(MeshUri(three));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.NotNull(refused.RetryAfter);
        var a2 = await JoinAsync(mesh: one); // a mesh served here already is no new mesh
        await a.MarkAsync(a2);

        // The last connection of a mesh takes the mesh with it: its place is free for another.
        await b.CloseAsync();
        await WaitForAsync(() => Meshes.Snapshot().Length == 1, "mesh two dropped");
        var c = await JoinAsync(mesh: three);
        var c2 = await JoinAsync(mesh: three);
        await c.MarkAsync(c2);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri(two))).Status);
    }

    [Fact]
    public async Task A_new_peer_in_a_full_mesh_gets_mesh_full_on_an_open_socket_and_registers_once_a_peer_left()
    {
        await StartRelayAsync("Relay:MaxPeersPerMesh=2");
        var a = await JoinAsync();
        var b = await JoinAsync();

        var c = await ConnectAsync();
        await c.SendAsync(new { type = "presence", from = c.Id, data = new { }, turnId = "full" });
        var error = await c.WaitForAsync(Frame.IsRelayError);
        Assert.Equal("mesh_full", Frame.DataStr(error, "code"));
        Assert.Equal("full", Frame.Str(error, "turnId"));
        Assert.Equal(WebSocketState.Open, c.State);

        // Not registered: its routed frames are refused and nobody heard of it (its error came after its handling,
        // so the marker sent now reaches b after anything that handling queued for b).
        await c.SendAsync(new { type = "broadcast", data = new { from_c = true } });
        await c.WaitForAsync(f => Frame.IsError(f, "not_registered"));
        await a.MarkAsync(b);
        Assert.DoesNotContain(b.Received, f => Frame.NamesPeer(f, c.Id));

        // Another connection of a peer in the mesh is no new peer; other meshes are not affected.
        var aTab = await JoinAsync(a.Id);
        await b.MarkAsync(aTab);
        var elsewhere = await JoinAsync(mesh: Mesh + "-other");
        Assert.DoesNotContain(elsewhere.Received, Frame.IsRelayError);

        // A peer leaves: c's next presence registers it, as a newcomer with a snapshot.
        await b.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, b.Id));
        var snapshot = await c.RegisterAsync();
        Assert.Equal(new[] { a.Id }, snapshot.Select(f => Frame.From(f)!).ToArray());
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));
        await c.MarkAsync(a, aTab);
        Assert.Single(c.All(Frame.IsRelayError), f => Frame.IsError(f, "mesh_full"));
    }

    [Theory]
    [InlineData("Relay:MaxConnections=100 Relay:MaxConnectionsPerAddress=200", "MaxConnectionsPerAddress")] // more than MaxConnections
    [InlineData("Relay:MaxConnections=0", "MaxConnections")]
    [InlineData("Relay:MaxMeshes=0", "MaxMeshes")]
    [InlineData("Relay:MaxPeersPerMesh=0", "MaxPeersPerMesh")]
    [InlineData("Relay:RetryAfter=00:00:00", "RetryAfter")]
    [InlineData("Relay:MaxFrameBytes=2097152 Relay:SendQueueBytes=8388608 Relay:ByteRateLimitBurst=1048576", "ByteRateLimitBurst")] // below one frame
    [InlineData("Relay:ConnectsPerSecondPerAddress=50 Relay:ConnectBurstPerAddress=10", "ConnectBurstPerAddress")] // below the rate
    [InlineData("Relay:MaxAgentsPerPeer=0", "MaxAgentsPerPeer")]
    [InlineData("Relay:ShedWhenLaggingAbove=00:00:00.050", "ShedWhenLaggingAbove")] // below the lag probe's period
    [InlineData("Relay:DrainWindow=00:00:25", "DrainWindow")] // plus 10 s of close handshakes: over the host's 30 s
    public async Task Bad_limits_stop_the_relay_at_start_with_a_message(string settings, string member)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => RelayServer.StartAsync(settings.Split(' ')));
        Assert.Contains(member, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_longer_drain_window_is_accepted_with_a_longer_shutdown_timeout()
    {
        await using var relay = await RelayServer.StartAsync("Relay:DrainWindow=00:00:25", "shutdownTimeoutSeconds=40");
        Assert.Equal(TimeSpan.FromSeconds(25), relay.Services.GetRequiredService<IOptions<Relay.Gateway.Configuration.RelayOptions>>().Value.DrainWindow);
    }

    private ConnectionAdmission Admission => Relay.Services.GetRequiredService<ConnectionAdmission>();

    private MeshRegistry Meshes => Relay.Services.GetRequiredService<MeshRegistry>();

    /// <summary>Waits (bounded) for the relay's own bookkeeping: a slot is given back when the request that held it
    /// has ended, shortly after what the clients can observe (the offline, the close).</summary>
    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TestPeer.DefaultTimeout) throw new TimeoutException($"not within {TestPeer.DefaultTimeout}: {what}");
            await Task.Delay(20);
        }
    }
}

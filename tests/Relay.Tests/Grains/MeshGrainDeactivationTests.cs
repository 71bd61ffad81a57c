using System.Net.WebSockets;
using Orleans.Concurrency;
using Orleans.Core.Internal;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// The mesh grain keeps its roster in memory and can lose its activation (with its silo). Gateways restate their
/// peers periodically (RosterRefresher), which also keeps the grain from idle collection; these tests play that
/// restatement and check the roster heals, and that a grain-side reap still reaches the gateway holding the
/// connection even before it has.
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class MeshGrainDeactivationTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();

    [Fact]
    public async Task The_roster_heals_from_the_gateways_restatement_after_a_deactivation_of_the_mesh_grain()
    {
        var mesh = GrainClusterFixture.NewMesh("meshgone");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "steady");
        var connection = new ConnectionKey(gateway, 1);
        await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());
        await using var renewer = Renewer.Start(peer, gateway, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        Assert.Equal("steady", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);

        await DeactivateMesh(mesh);

        Assert.Equal([connection], await peer.GetConnections()); // the peer grain still holds it online
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());

        // The gateway's next restatement makes the roster whole again.
        await fixture.Mesh(mesh).Refresh(gateway,
            [new RosterEntry("steady", Metadata.Value, Unix.Now(), 1, [new MemberConnection(connection, ["chat"])])]);
        var healed = Assert.Single(await fixture.Mesh(mesh).GetRoster());
        Assert.Equal("steady", healed.PeerId);
        Assert.Equal([connection], healed.Connections.Select(c => c.Key));
        await renewer.StopAsync();
        Assert.True((await peer.Disconnect(connection)).WentOffline);
    }

    [Fact]
    public async Task A_reap_after_a_deactivation_of_the_mesh_grain_still_reaches_the_gateway()
    {
        var mesh = GrainClusterFixture.NewMesh("meshgone");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "orphan");
        var connection = new ConnectionKey(gateway, 1);
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());

        await DeactivateMesh(mesh);

        var (reaped, _) = await probe.NextReapedAsync(GrainClusterFixture.Lease + TimeSpan.FromSeconds(3));
        Assert.Equal("orphan", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
    }

    [Fact]
    public async Task A_gateway_whose_stream_lost_a_reap_gets_it_from_the_answer_to_its_restatement()
    {
        // Stream events are queued on a silo; one queued on a silo that dies before delivering it is lost. The other
        // gateway here never subscribed, as if its copy of the reap had been lost that way.
        var mesh = GrainClusterFixture.NewMesh("replay");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var deaf = GrainClusterFixture.NewGateway("deaf");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "gone");
        var connection = new ConnectionKey(gateway, 1);
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());
        Assert.Empty(await fixture.Mesh(mesh).Refresh(deaf, []));

        var (reaped, _) = await probe.NextReapedAsync(GrainClusterFixture.Lease + TimeSpan.FromSeconds(3));

        var restated = Assert.Single(await fixture.Mesh(mesh).Refresh(deaf, []));
        Assert.Equal(reaped, restated with { Connections = reaped.Connections });
        Assert.Equal([connection], restated.Connections);
        Assert.Equal(join.Incarnation, restated.Incarnation);
        Assert.True(restated.Offline);
    }

    [Fact]
    public async Task A_ghost_whose_reap_the_mesh_grain_forgot_goes_offline_once_at_the_next_restatements()
    {
        // The reap's stream event to "deaf" was lost with a silo (it never subscribed), then the mesh grain's activation
        // went too, inside the replay window, and the peer grain cleared its state: only deaf's view still holds the peer.
        var mesh = GrainClusterFixture.NewMesh("ghost");
        var owner = GrainClusterFixture.NewGateway("owner");
        var deaf = GrainClusterFixture.NewGateway("deaf");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, owner);
        var peer = fixture.Peer(mesh, "ghost");
        var connection = new ConnectionKey(owner, 1);
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());
        var (view, observer) = ViewHolding(mesh, deaf, "ghost", join.Incarnation, connection);

        // While the roster holds the peer, the restatement asks no peer grain.
        Assert.Empty(await fixture.Mesh(mesh).Refresh(deaf, view.LocalRoster(), view.RemoteOnlyPeers()));
        Assert.DoesNotContain(fixture.Calls.For(peer.GetGrainId()), c => c.Method == nameof(IPeerGrain.OnlineIncarnation));

        await probe.NextReapedAsync(GrainClusterFixture.Lease + TimeSpan.FromSeconds(3));
        await DeactivateMesh(mesh);
        Assert.Empty(await fixture.Mesh(mesh).Refresh(deaf, view.LocalRoster())); // the replay alone no longer knows
        Assert.True(view.Membership.IsOnlinePeer("ghost"));

        var before = observer.QueuedBytes;
        var now = Unix.Now();
        foreach (var _ in new[] { 1, 2 })
        {
            var answer = await fixture.Mesh(mesh).Refresh(deaf, view.LocalRoster(), view.RemoteOnlyPeers());
            foreach (var reaped in answer)
            {
                Assert.Equal(("ghost", join.Incarnation, true), (reaped.PeerId, reaped.Incarnation, reaped.Offline));
                if (RemoteMeshUpdates.KnewOf(view, reaped)) RemoteMeshUpdates.ApplyExpired(view, reaped, now);
            }
        }

        Assert.False(view.Membership.IsOnlinePeer("ghost"));
        Assert.Equal(before + RelayFrames.Offline("ghost", now).Length, observer.QueuedBytes);
    }

    [Fact]
    public async Task A_remote_peer_the_roster_lost_whose_grain_still_has_a_connection_is_not_reaped()
    {
        var mesh = GrainClusterFixture.NewMesh("lostroster");
        var owner = GrainClusterFixture.NewGateway("owner");
        var other = GrainClusterFixture.NewGateway("other");
        var peer = fixture.Peer(mesh, "alive");
        var connection = new ConnectionKey(owner, 1);
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());
        await using var renewer = Renewer.Start(peer, owner, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        var (view, _) = ViewHolding(mesh, other, "alive", join.Incarnation, connection);

        await DeactivateMesh(mesh);

        // The roster lacks the peer until its own gateway restates it: its grain, asked, still has the connection.
        Assert.Empty(await fixture.Mesh(mesh).Refresh(other, view.LocalRoster(), view.RemoteOnlyPeers()));
        var asked = fixture.Calls.For(peer.GetGrainId()).Count(c => c.Method == nameof(IPeerGrain.OnlineIncarnation));
        Assert.Equal(1, asked);
        Assert.Equal([connection], await peer.GetConnections());

        // Once its gateway restated it, the roster holds it again and nobody asks the grain.
        await fixture.Mesh(mesh).Refresh(owner,
            [new RosterEntry("alive", Metadata.Value, Unix.Now(), join.Incarnation, [new MemberConnection(connection, null)])], []);
        Assert.Empty(await fixture.Mesh(mesh).Refresh(other, view.LocalRoster(), view.RemoteOnlyPeers()));
        Assert.Equal(asked, fixture.Calls.For(peer.GetGrainId()).Count(c => c.Method == nameof(IPeerGrain.OnlineIncarnation)));
        Assert.True(view.Membership.IsOnlinePeer("alive"));

        await renewer.StopAsync();
        Assert.True((await peer.Disconnect(connection)).WentOffline);
    }

    [Fact]
    public async Task A_remote_peer_known_to_the_roster_as_a_newer_incarnation_is_reaped_without_asking_its_grain()
    {
        // Incarnations grow only when a peer comes back from offline: the one the gateway holds ended.
        var mesh = GrainClusterFixture.NewMesh("newer");
        var owner = GrainClusterFixture.NewGateway("owner");
        var other = GrainClusterFixture.NewGateway("other");
        var peer = fixture.Peer(mesh, "back");
        var first = new ConnectionKey(owner, 1);
        var old = await peer.Connect(new MemberConnection(first, null), Metadata, Unix.Now());
        Assert.True((await peer.Disconnect(first)).WentOffline);
        var second = new ConnectionKey(owner, 2);
        var again = await peer.Connect(new MemberConnection(second, null), Metadata, Unix.Now());
        Assert.True(again.Incarnation > old.Incarnation);

        var reaped = Assert.Single(await fixture.Mesh(mesh).Refresh(other, [], [new PeerIncarnation("back", old.Incarnation)]));
        Assert.Equal(("back", old.Incarnation, true), (reaped.PeerId, reaped.Incarnation, reaped.Offline));
        Assert.DoesNotContain(fixture.Calls.For(peer.GetGrainId()), c => c.Method == nameof(IPeerGrain.OnlineIncarnation));

        Assert.True((await peer.Disconnect(second)).WentOffline);
    }

    /// <summary>A gateway's view of <paramref name="mesh"/> on <paramref name="gatewayId"/>: a client of its own (the
    /// observer, whose queued bytes show what it was told) and <paramref name="peerId"/>'s connection on another gateway,
    /// as that gateway's link told it.</summary>
    private static (MeshView View, RelayConnection Observer) ViewHolding(string mesh, string gatewayId, string peerId, long incarnation, ConnectionKey remote)
    {
        var view = new MeshView(mesh, gatewayId, TestConnections.StoppedLinks());
        var observer = TestConnections.Create(1, mesh, WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true }));
        observer.PeerId = "observer";
        observer.Incarnation = 1;
        view.Register(observer, "{}"u8.ToArray(), Unix.Now(), 1, RelayFrames.Presence("observer", "{}"u8.ToArray(), Unix.Now()));
        new RemoteMeshUpdates(new ConnectionRegistry()).Apply(view, remote.GatewayId,
            new LinkItem(LinkItemKind.Joined, mesh, peerId, incarnation, remote.ConnectionId, RelayFrames.Presence(peerId, "{}"u8.ToArray(), Unix.Now())),
            receivedAt: 0);
        return (view, observer);
    }

    private async Task DeactivateMesh(string mesh)
    {
        var grain = fixture.Mesh(mesh);
        var before = fixture.CurrentActivation(grain) ?? throw new InvalidOperationException("mesh grain not active");
        var gone = fixture.Cluster.WaitForDeactivationAsync(grain);
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await gone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.NotEqual(before, fixture.CurrentActivation(grain));
    }
}

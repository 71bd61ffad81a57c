using System.Net.WebSockets;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Routing;

/// <summary>
/// A gateway's mesh view on its own (its links never send: what they would carry is not looked at here): the orders in
/// which a peer's leaving can reach it, each announcing offline exactly once, and never for a peer that came back.
/// </summary>
public sealed class MeshViewTests
{
    private const string GatewayId = "gw-test";
    private readonly MeshView _mesh = new("mesh", GatewayId, TestConnections.StoppedLinks());
    private readonly RemoteMeshUpdates _remote = new(new ConnectionRegistry());
    private long _nextId;

    [Fact]
    public void Grain_reap_arriving_after_this_nodes_sweep_still_announces_offline_once()
    {
        var observer = Join("observer", incarnation: 1);
        var silent = Join("silent", incarnation: 1);
        var before = observer.QueuedBytes;

        // The sweep comes second to the peer grain's lease expiry: the grain no longer knows the connection.
        _mesh.Remove(silent);
        _mesh.Left(silent, new PeerLeave(WentOffline: false, Incarnation: 1, []), Now());
        Assert.Equal(before, observer.QueuedBytes);

        // Then the grain's announcement arrives.
        RemoteMeshUpdates.ApplyExpired(_mesh, new PeerReaped("mesh", "silent", 1, [new ConnectionKey(GatewayId, silent.Id)]), Now());
        var offline = RelayFrames.Offline("silent", Now()).Length;
        Assert.Equal(before + offline, observer.QueuedBytes);

        RemoteMeshUpdates.ApplyExpired(_mesh, new PeerReaped("mesh", "silent", 1, [new ConnectionKey(GatewayId, silent.Id)]), Now());
        Assert.Equal(before + offline, observer.QueuedBytes);
        Assert.False(_mesh.Membership.IsOnlinePeer("silent"));
    }

    [Fact]
    public void This_nodes_offline_then_the_grains_reap_announces_once()
    {
        var observer = Join("observer", incarnation: 1);
        var leaver = Join("leaver", incarnation: 3);
        var before = observer.QueuedBytes;

        _mesh.Remove(leaver);
        _mesh.Left(leaver, new PeerLeave(WentOffline: true, Incarnation: 3, []), Now());
        var afterOffline = observer.QueuedBytes;
        Assert.True(afterOffline > before);

        RemoteMeshUpdates.ApplyExpired(_mesh, new PeerReaped("mesh", "leaver", 3, [new ConnectionKey(GatewayId, leaver.Id)]), Now());
        Assert.Equal(afterOffline, observer.QueuedBytes);
    }

    [Fact]
    public void Grain_reap_then_this_nodes_late_leave_announces_once()
    {
        var observer = Join("observer", incarnation: 1);
        var silent = Join("silent", incarnation: 2);
        var before = observer.QueuedBytes;

        _mesh.Remove(silent);
        RemoteMeshUpdates.ApplyExpired(_mesh, new PeerReaped("mesh", "silent", 2, [new ConnectionKey(GatewayId, silent.Id)]), Now());
        var afterOffline = observer.QueuedBytes;
        Assert.True(afterOffline > before);

        _mesh.Left(silent, new PeerLeave(WentOffline: true, Incarnation: 2, []), Now());
        Assert.Equal(afterOffline, observer.QueuedBytes);
    }

    [Fact]
    public void A_peer_joining_on_another_gateway_makes_that_gateway_a_broadcast_target()
    {
        // The link's item can arrive before the mesh grain's GatewayJoinedMesh event (which rides a stream): the
        // gateway it came from must get this node's broadcasts from then on, or its newcomer would miss them.
        Assert.Empty(_mesh.Membership.Gateways);
        _remote.Apply(_mesh, "gw-other", new LinkItem(LinkItemKind.Joined, "mesh", "remote", 1, 7,
            RelayFrames.Presence("remote", "{}"u8.ToArray(), Now())), receivedAt: 0);
        Assert.Equal(["gw-other"], _mesh.Membership.Gateways);
    }

    [Fact]
    public void A_leave_whose_peer_came_back_on_another_gateway_meanwhile_announces_no_offline()
    {
        // Found by ClusterStormTests: this node's connection of "tab" closes; while the peer grain answers "offline,
        // incarnation 1", the peer registers again on gw-other as incarnation 2, and that link's Joined gets here first.
        var observer = Join("observer", incarnation: 1);
        var leaver = Join("tab", incarnation: 1);
        _mesh.Remove(leaver);
        _remote.Apply(_mesh, "gw-other", Joined("tab", incarnation: 2, connectionId: 7, agents: null), receivedAt: 0);
        var before = observer.QueuedBytes;

        _mesh.Left(leaver, new PeerLeave(WentOffline: true, Incarnation: 1, []), Now());

        Assert.Equal(before, observer.QueuedBytes);
        Assert.True(_mesh.Membership.IsOnlinePeer("tab"));
    }

    [Fact]
    public void An_offline_of_an_ended_incarnation_forgets_its_remote_connections_but_not_the_peer()
    {
        // The other side of the same race: gw-other's connection (incarnation 1) is known here, the peer registers here
        // as incarnation 2, then gw-other's offline of incarnation 1 arrives.
        var observer = Join("observer", incarnation: 1);
        _remote.Apply(_mesh, "gw-other", Joined("tab", incarnation: 1, connectionId: 7, agents: ["old-agent"]), receivedAt: 0);
        Join("tab", incarnation: 2);
        var before = observer.QueuedBytes;

        _remote.Apply(_mesh, "gw-other", new LinkItem(LinkItemKind.Offline, "mesh", "tab", 1, 7, RelayFrames.Offline("tab", Now())), receivedAt: 0);

        Assert.Equal(before, observer.QueuedBytes);
        Assert.True(_mesh.Membership.IsOnlinePeer("tab"));
        Assert.DoesNotContain("old-agent", _mesh.Membership.ActiveAgents());
    }

    [Fact]
    public void A_restated_reap_removes_a_ghost_the_stream_lost_and_announces_its_offline_once()
    {
        // The reap's stream event was queued on a silo that died: the remote peer stayed in this view. The mesh grain's
        // answer to the next restatement carries the reap again; so does the one after.
        var observer = Join("observer", incarnation: 1);
        _remote.Apply(_mesh, "gw-other", Joined("ghost", incarnation: 4, connectionId: 7, agents: null), receivedAt: 0);
        var before = observer.QueuedBytes;
        var reaped = new PeerReaped("mesh", "ghost", 4, [new ConnectionKey("gw-other", 7)]);

        var now = Now();
        foreach (var _ in new[] { 1, 2 })
        {
            if (RemoteMeshUpdates.KnewOf(_mesh, reaped)) RemoteMeshUpdates.ApplyExpired(_mesh, reaped, now);
        }

        Assert.Equal(before + RelayFrames.Offline("ghost", now).Length, observer.QueuedBytes);
        Assert.False(_mesh.Membership.IsOnlinePeer("ghost"));
    }

    [Fact]
    public void A_restated_reap_of_a_peer_this_gateway_never_knew_announces_nothing()
    {
        // This gateway opened the mesh after the peer was reaped: its clients never saw the peer.
        var observer = Join("observer", incarnation: 1);
        var before = observer.QueuedBytes;
        var reaped = new PeerReaped("mesh", "stranger", 2, [new ConnectionKey("gw-other", 9)]);

        Assert.False(RemoteMeshUpdates.KnewOf(_mesh, reaped));
        Assert.Equal(before, observer.QueuedBytes);
        // A restated reap of one of this gateway's own connections is known even once the view has dropped the peer.
        Assert.True(RemoteMeshUpdates.KnewOf(_mesh, reaped with { Connections = [new ConnectionKey(GatewayId, 3)] }));
    }

    [Fact]
    public void A_restatement_names_the_peers_online_here_through_other_gateways_only()
    {
        // A peer with a connection here cannot be a ghost: its grain holds that connection, and this node its offline.
        Join("observer", incarnation: 1);
        _remote.Apply(_mesh, "gw-other", Joined("remote", incarnation: 5, connectionId: 7, agents: null), receivedAt: 0);
        _remote.Apply(_mesh, "gw-other", Joined("observer", incarnation: 1, connectionId: 8, agents: null), receivedAt: 0);

        Assert.Equal([new PeerIncarnation("remote", 5)], _mesh.RemoteOnlyPeers());
    }

    private static LinkItem Joined(string peerId, long incarnation, long connectionId, string[]? agents) =>
        new(LinkItemKind.Joined, "mesh", peerId, incarnation, connectionId, RelayFrames.Presence(peerId, "{}"u8.ToArray(), Now()), Agents: agents);

    private RelayConnection Join(string peerId, long incarnation)
    {
        var connection = TestConnections.Create(++_nextId, "mesh", WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true }));
        connection.PeerId = peerId;
        connection.Incarnation = incarnation;
        _mesh.Register(connection, "{}"u8.ToArray(), Now(), incarnation, RelayFrames.Presence(peerId, "{}"u8.ToArray(), Now()));
        return connection;
    }

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}

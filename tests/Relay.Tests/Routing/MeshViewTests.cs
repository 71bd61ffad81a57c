using System.Diagnostics;
using System.Net.WebSockets;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Routing;

/// <summary>
/// A gateway's mesh view on its own (one node, no other gateway, so nothing goes on links): the orders in which
/// a peer's leaving can reach it, each announcing offline exactly once.
/// </summary>
public sealed class MeshViewTests
{
    private const string GatewayId = "gw-test";
    private readonly MeshView _mesh = new("mesh", GatewayId, links: null!);
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
        _mesh.ApplyExpired(new PeerReaped("mesh", "silent", 1, [new ConnectionKey(GatewayId, silent.Id)]), Now());
        var offline = RelayFrames.Offline("silent", Now()).Length;
        Assert.Equal(before + offline, observer.QueuedBytes);

        _mesh.ApplyExpired(new PeerReaped("mesh", "silent", 1, [new ConnectionKey(GatewayId, silent.Id)]), Now());
        Assert.Equal(before + offline, observer.QueuedBytes);
        Assert.False(_mesh.IsOnlinePeer("silent"));
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

        _mesh.ApplyExpired(new PeerReaped("mesh", "leaver", 3, [new ConnectionKey(GatewayId, leaver.Id)]), Now());
        Assert.Equal(afterOffline, observer.QueuedBytes);
    }

    [Fact]
    public void Grain_reap_then_this_nodes_late_leave_announces_once()
    {
        var observer = Join("observer", incarnation: 1);
        var silent = Join("silent", incarnation: 2);
        var before = observer.QueuedBytes;

        _mesh.Remove(silent);
        _mesh.ApplyExpired(new PeerReaped("mesh", "silent", 2, [new ConnectionKey(GatewayId, silent.Id)]), Now());
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
        Assert.Empty(_mesh.Gateways);
        _mesh.Apply("gw-other", new LinkItem(LinkItemKind.Joined, "mesh", "remote", 1, 7,
            RelayFrames.Presence("remote", "{}"u8.ToArray(), Now())), new ConnectionRegistry(), receivedAt: 0);
        Assert.Equal(["gw-other"], _mesh.Gateways);
    }

    private RelayConnection Join(string peerId, long incarnation)
    {
        var now = Stopwatch.GetTimestamp();
        var connection = new RelayConnection(
            ++_nextId, _mesh, WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true }),
            sendQueueBytes: 1 << 20, TimeProvider.System, echo: null, redactor: null,
            new TokenBucket(100, 100, now, Stopwatch.Frequency), new ErrorGate(new TokenBucket(10, 10, now, Stopwatch.Frequency)))
        {
            PeerId = peerId, Incarnation = incarnation,
        };
        _mesh.Register(connection, "{}"u8.ToArray(), Now(), incarnation, RelayFrames.Presence(peerId, "{}"u8.ToArray(), Now()));
        return connection;
    }

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}

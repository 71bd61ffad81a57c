using Orleans.Concurrency;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>protocol.md "Several connections per peer id": offline once, when the last connection goes.</summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class SeveralConnectionsTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = "{}"u8.ToArray().AsImmutable();

    [Fact]
    public async Task Only_the_first_connection_brings_the_peer_online_and_only_the_last_disconnect_takes_it_offline()
    {
        var mesh = GrainClusterFixture.NewMesh("several");
        var gw1 = GrainClusterFixture.NewGateway("gw1");
        var gw2 = GrainClusterFixture.NewGateway("gw2");
        var peer = fixture.Peer(mesh, "tab");
        var first = new ConnectionKey(gw1, 1);
        var sameGateway = new ConnectionKey(gw1, 2);
        var otherGateway = new ConnectionKey(gw2, 1); // same connection id, other gateway: a different connection
        // Reported alive far into the future: these tests are about membership, not reaping, and must not race the
        // fixture's one-second leases on a loaded machine.
        var now = Unix.Now() + 3600;

        var join1 = await peer.Connect(new MemberConnection(first, null), Metadata, now);
        var join2 = await peer.Connect(new MemberConnection(sameGateway, null), Metadata, now);
        var join3 = await peer.Connect(new MemberConnection(otherGateway, null), Metadata, now);

        Assert.True(join1.CameOnline);
        Assert.False(join2.CameOnline);
        Assert.False(join3.CameOnline);
        Assert.Equal(join1.Incarnation, join2.Incarnation);
        Assert.Equal(join1.Incarnation, join3.Incarnation);
        Assert.Equal(Keys.Sorted(first, sameGateway, otherGateway), Keys.Sorted(await peer.GetConnections()));

        Assert.False((await peer.Disconnect(first)).WentOffline);
        Assert.Equal("tab", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        Assert.False((await peer.Disconnect(first)).WentOffline); // already removed: still nothing to announce
        Assert.False((await peer.Disconnect(sameGateway)).WentOffline);
        Assert.Equal("tab", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        Assert.Equal([otherGateway], await peer.GetConnections());

        Assert.True((await peer.Disconnect(otherGateway)).WentOffline);
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
        Assert.Empty(await peer.GetConnections());

        // Offline exactly once: the same or an unknown connection leaving again announces nothing.
        Assert.False((await peer.Disconnect(otherGateway)).WentOffline);
        Assert.False((await peer.Disconnect(new ConnectionKey(gw1, 42))).WentOffline);
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task Incarnation_grows_each_time_the_peer_comes_back_online()
    {
        var mesh = GrainClusterFixture.NewMesh("incarnation");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "p");
        // Reported alive far into the future: these tests are about membership, not reaping, and must not race the
        // fixture's one-second leases on a loaded machine.
        var now = Unix.Now() + 3600;

        var one = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), Metadata, now);
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 1))).WentOffline);
        var two = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 2), null), Metadata, now);
        var twoToo = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 3), null), Metadata, now);
        Assert.False((await peer.Disconnect(new ConnectionKey(gateway, 2))).WentOffline);
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 3))).WentOffline);
        var three = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), Metadata, now); // a reused connection id too

        Assert.True(one.CameOnline);
        Assert.True(two.CameOnline);
        Assert.False(twoToo.CameOnline);
        Assert.True(three.CameOnline);
        Assert.True(two.Incarnation > one.Incarnation);
        Assert.Equal(two.Incarnation, twoToo.Incarnation);
        Assert.True(three.Incarnation > two.Incarnation);

        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 1))).WentOffline);
    }

    [Fact]
    public async Task A_never_connected_peer_has_nothing_to_announce()
    {
        var peer = fixture.Peer(GrainClusterFixture.NewMesh("nobody"), "ghost");
        Assert.False((await peer.Disconnect(new ConnectionKey(GrainClusterFixture.NewGateway("gw"), 7))).WentOffline);
        Assert.Empty(await peer.GetConnections());
    }
}

using Orleans.Concurrency;
using Relay.Grains.Contracts;
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
        var now = Unix.Now();

        var join1 = await peer.Connect(first, Metadata, now);
        var join2 = await peer.Connect(sameGateway, Metadata, now);
        var join3 = await peer.Connect(otherGateway, Metadata, now);

        Assert.True(join1.CameOnline);
        Assert.False(join2.CameOnline);
        Assert.False(join3.CameOnline);
        Assert.Equal(join1.Incarnation, join2.Incarnation);
        Assert.Equal(join1.Incarnation, join3.Incarnation);
        Assert.Equal(Keys.Sorted(first, sameGateway, otherGateway), Keys.Sorted(await peer.GetConnections()));

        Assert.False(await peer.Disconnect(first));
        Assert.Equal("tab", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        Assert.False(await peer.Disconnect(first)); // already removed: still nothing to announce
        Assert.False(await peer.Disconnect(sameGateway));
        Assert.Equal("tab", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        Assert.Equal([otherGateway], await peer.GetConnections());

        Assert.True(await peer.Disconnect(otherGateway));
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
        Assert.Empty(await peer.GetConnections());

        // Offline exactly once: the same or an unknown connection leaving again announces nothing.
        Assert.False(await peer.Disconnect(otherGateway));
        Assert.False(await peer.Disconnect(new ConnectionKey(gw1, 42)));
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task Incarnation_grows_each_time_the_peer_comes_back_online()
    {
        var mesh = GrainClusterFixture.NewMesh("incarnation");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "p");
        var now = Unix.Now();

        var one = await peer.Connect(new ConnectionKey(gateway, 1), Metadata, now);
        Assert.True(await peer.Disconnect(new ConnectionKey(gateway, 1)));
        var two = await peer.Connect(new ConnectionKey(gateway, 2), Metadata, now);
        var twoToo = await peer.Connect(new ConnectionKey(gateway, 3), Metadata, now);
        Assert.False(await peer.Disconnect(new ConnectionKey(gateway, 2)));
        Assert.True(await peer.Disconnect(new ConnectionKey(gateway, 3)));
        var three = await peer.Connect(new ConnectionKey(gateway, 1), Metadata, now); // a reused connection id too

        Assert.True(one.CameOnline);
        Assert.True(two.CameOnline);
        Assert.False(twoToo.CameOnline);
        Assert.True(three.CameOnline);
        Assert.True(two.Incarnation > one.Incarnation);
        Assert.Equal(two.Incarnation, twoToo.Incarnation);
        Assert.True(three.Incarnation > two.Incarnation);

        Assert.True(await peer.Disconnect(new ConnectionKey(gateway, 1)));
    }

    [Fact]
    public async Task A_never_connected_peer_has_nothing_to_announce()
    {
        var peer = fixture.Peer(GrainClusterFixture.NewMesh("nobody"), "ghost");
        Assert.False(await peer.Disconnect(new ConnectionKey(GrainClusterFixture.NewGateway("gw"), 7)));
        Assert.Empty(await peer.GetConnections());
    }
}

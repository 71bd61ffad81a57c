using System.Text;
using Orleans.Concurrency;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

[Collection(GrainClusterDefinition.Name)]
public sealed class RosterTests(GrainClusterFixture fixture)
{
    private static Immutable<byte[]> Json(string json) => Encoding.UTF8.GetBytes(json).AsImmutable();

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public async Task Connect_puts_peers_on_the_roster_with_their_metadata_and_the_last_disconnect_removes_them()
    {
        var mesh = GrainClusterFixture.NewMesh("roster");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var a = fixture.Peer(mesh, "a");
        var b = fixture.Peer(mesh, "b");
        var ca = new ConnectionKey(gateway, 1);
        var cb = new ConnectionKey(gateway, 2);
        // Reported alive far into the future (membership, not reaping; see SeveralConnectionsTests).
        var t0 = Unix.Now() + 3600;

        Assert.True((await a.Connect(new MemberConnection(ca, null), Json("""{"agents":["chat"]}"""), t0)).CameOnline);
        Assert.True((await b.Connect(new MemberConnection(cb, null), Json("""{"agents":["agi"]}"""), t0 + 0.001)).CameOnline);

        var roster = (await fixture.Mesh(mesh).GetRoster()).ToDictionary(e => e.PeerId);
        Assert.Equal(["a", "b"], roster.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("""{"agents":["chat"]}""", Text(roster["a"].Metadata));
        Assert.Equal(t0, roster["a"].LastSeen);
        Assert.Equal("""{"agents":["agi"]}""", Text(roster["b"].Metadata));
        Assert.Equal(t0 + 0.001, roster["b"].LastSeen);

        // A later presence with other data replaces the metadata (not merges it).
        await a.UpdateMetadata(new MemberConnection(ca, null), Json("""{"status":"busy"}"""), t0 + 0.5);
        roster = (await fixture.Mesh(mesh).GetRoster()).ToDictionary(e => e.PeerId);
        Assert.Equal("""{"status":"busy"}""", Text(roster["a"].Metadata));
        Assert.Equal(t0 + 0.5, roster["a"].LastSeen);
        Assert.Equal("""{"agents":["agi"]}""", Text(roster["b"].Metadata));

        // An update from a connection the grain does not know changes nothing.
        await a.UpdateMetadata(new MemberConnection(new ConnectionKey(gateway, 99), null), Json("""{"status":"stranger"}"""), t0 + 0.6);
        roster = (await fixture.Mesh(mesh).GetRoster()).ToDictionary(e => e.PeerId);
        Assert.Equal("""{"status":"busy"}""", Text(roster["a"].Metadata));

        Assert.True((await a.Disconnect(ca)).WentOffline);
        var after = await fixture.Mesh(mesh).GetRoster();
        var only = Assert.Single(after);
        Assert.Equal("b", only.PeerId);
        Assert.Empty(await a.GetConnections());

        Assert.True((await b.Disconnect(cb)).WentOffline);
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task Meshes_do_not_share_rosters()
    {
        var mesh1 = GrainClusterFixture.NewMesh("m1");
        var mesh2 = GrainClusterFixture.NewMesh("m2");
        var gateway = GrainClusterFixture.NewGateway("gw");
        // Reported alive far into the future: these tests are about membership, not reaping, and must not race the
        // fixture's one-second leases on a loaded machine.
        var now = Unix.Now() + 3600;

        await fixture.Peer(mesh1, "same").Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), Json("""{"m":1}"""), now);
        var join = await fixture.Peer(mesh2, "same").Connect(new MemberConnection(new ConnectionKey(gateway, 2), null), Json("""{"m":2}"""), now);

        Assert.True(join.CameOnline);
        Assert.Equal("""{"m":1}""", Text(Assert.Single(await fixture.Mesh(mesh1).GetRoster()).Metadata));
        Assert.Equal("""{"m":2}""", Text(Assert.Single(await fixture.Mesh(mesh2).GetRoster()).Metadata));

        Assert.True((await fixture.Peer(mesh1, "same").Disconnect(new ConnectionKey(gateway, 1))).WentOffline);
        Assert.Empty(await fixture.Mesh(mesh1).GetRoster());
        Assert.Single(await fixture.Mesh(mesh2).GetRoster());
        Assert.True((await fixture.Peer(mesh2, "same").Disconnect(new ConnectionKey(gateway, 2))).WentOffline);
    }
}

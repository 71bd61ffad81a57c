using Orleans.Concurrency;
using Orleans.Core.Internal;
using Relay.Grains.Contracts;
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

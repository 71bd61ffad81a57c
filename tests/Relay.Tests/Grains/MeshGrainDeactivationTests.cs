using Orleans.Concurrency;
using Orleans.Core.Internal;
using Relay.Grains.Contracts;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// The mesh grain is an ordinary activation: Orleans collects it after GrainCollectionOptions.CollectionAge
/// (15 min by default) without calls, or loses it with its silo. Peers that stay online (their grains keep
/// them, gateways only renew peer grains and call the mesh grain only on a first presence or changed
/// metadata) must not vanish from the mesh with it.
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class MeshGrainDeactivationTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();

    [Fact]
    public async Task The_roster_survives_a_deactivation_of_the_mesh_grain()
    {
        var mesh = GrainClusterFixture.NewMesh("meshgone");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "steady");
        var connection = new ConnectionKey(gateway, 1);
        await peer.Connect(connection, Metadata, Unix.Now());
        await using var renewer = Renewer.Start(peer, gateway, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        Assert.Equal("steady", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);

        await DeactivateMesh(mesh);

        Assert.Equal([connection], await peer.GetConnections()); // the peer grain still holds it online
        Assert.Equal("steady", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        await renewer.StopAsync();
        Assert.True(await peer.Disconnect(connection));
    }

    [Fact]
    public async Task A_reap_after_a_deactivation_of_the_mesh_grain_still_reaches_the_gateway()
    {
        var mesh = GrainClusterFixture.NewMesh("meshgone");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "orphan");
        var connection = new ConnectionKey(gateway, 1);
        var join = await peer.Connect(connection, Metadata, Unix.Now());

        await DeactivateMesh(mesh);

        var (reaped, _) = await probe.NextReapedAsync(GrainClusterFixture.Lease + TimeSpan.FromSeconds(3));
        Assert.Equal("orphan", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
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

using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Storage;
using Relay.Grains.Contracts;
using Relay.Grains.Meshes;
using Relay.Grains.Peers;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// What is left of a peer id once it went offline for good, and of a mesh once it is empty: nothing in grain storage
/// and no activation (ids and meshes that clients name and leave must not cost memory or storage for ever); while a
/// principal held the id, only its binding, for the grace period; and incarnations still grow across the clears.
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class OfflineStateTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> LargeMetadata =
        System.Text.Encoding.UTF8.GetBytes($$"""{"pad":"{{new string('x', 60_000)}}"}""").AsImmutable();

    [Fact]
    public async Task A_peer_that_left_keeps_no_state_and_no_activation_and_its_next_incarnation_is_still_higher()
    {
        var mesh = GrainClusterFixture.NewMesh("forget");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "churn");
        var connection = new ConnectionKey(gateway, 1);
        var join = await peer.Connect(new MemberConnection(connection, null), LargeMetadata, Unix.Now() + 3600);
        Assert.True(await StoredAsync(peer, "peer"));

        var gone = fixture.Cluster.WaitForDeactivationAsync(peer);
        Assert.True((await peer.Disconnect(connection)).WentOffline);
        await gone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.False(await StoredAsync(peer, "peer"));

        var again = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 2), null), LargeMetadata, Unix.Now() + 3600);
        Assert.True(again.CameOnline);
        Assert.True(again.Incarnation > join.Incarnation, $"incarnation {again.Incarnation} after {join.Incarnation}");
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 2))).WentOffline);
    }

    [Fact]
    public async Task A_peer_reaped_by_its_lease_keeps_no_state_and_no_activation()
    {
        var mesh = GrainClusterFixture.NewMesh("forget-reap");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "silent");
        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), LargeMetadata, connectedAt);
        var gone = fixture.Cluster.WaitForDeactivationAsync(peer);

        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.Lease + GrainClusterFixture.EventTimeout);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        // Clearing the state does not move the reap: it still comes once the lease ran out, not before.
        Assert.True(at - connectedAt >= GrainClusterFixture.Lease.TotalSeconds - 0.005, $"reaped {at - connectedAt:F3} s after connect");
        await gone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.False(await StoredAsync(peer, "peer"));
        Assert.DoesNotContain(await fixture.RemindersOf(peer), name => name == "reap");
    }

    [Fact]
    public async Task An_empty_mesh_keeps_no_state_and_no_activation_and_reading_an_unknown_one_leaves_nothing()
    {
        var mesh = GrainClusterFixture.NewMesh("forget-mesh");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var grain = fixture.Mesh(mesh);
        await grain.Open(gateway);
        Assert.True(await StoredAsync(grain, "mesh"));

        var gone = fixture.Cluster.WaitForDeactivationAsync(grain);
        await grain.Close(gateway);
        await gone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.False(await StoredAsync(grain, "mesh"));

        var unknown = fixture.Mesh(GrainClusterFixture.NewMesh("asked-about"));
        var unknownGone = fixture.Cluster.WaitForDeactivationAsync(unknown);
        Assert.Empty(await unknown.GetRoster());
        await unknownGone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.Null(fixture.CurrentActivation(unknown));
    }

    [Fact]
    public async Task An_id_stays_bound_to_its_principal_for_the_grace_period_after_it_went_offline()
    {
        var mesh = GrainClusterFixture.NewMesh("grace");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var peer = fixture.Peer(mesh, "alice");
        var now = Unix.Now() + 3600;
        await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), LargeMetadata, now, "victim");
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 1))).WentOffline);
        var leftAt = Unix.Now();

        // Within the grace: another principal is refused, the owner comes back.
        Assert.True((await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 2), null), LargeMetadata, now, "attacker")).Refused);
        var back = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 3), null), LargeMetadata, now, "victim");
        Assert.False(back.Refused);
        Assert.True(back.CameOnline);
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 3))).WentOffline);
        Assert.True(Unix.Now() - leftAt < GrainClusterFixture.PeerIdGracePeriod.TotalSeconds, "the test took longer than the grace; it proves nothing");

        // After it: the binding is cleared with the rest, and the id is free.
        var gone = fixture.Cluster.WaitForDeactivationAsync(peer);
        await gone.WaitAsync(GrainClusterFixture.PeerIdGracePeriod + GrainClusterFixture.EventTimeout);
        Assert.False(await StoredAsync(peer, "peer"));
        var taken = await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 4), null), LargeMetadata, Unix.Now() + 3600, "attacker");
        Assert.False(taken.Refused);
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 4))).WentOffline);
    }

    /// <summary>Whether the grain's state is in the relay's grain storage (read as the silos read it).</summary>
    private async Task<bool> StoredAsync(IAddressable grain, string stateName)
    {
        var storage = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(GatewayStreams.Storage);
        if (stateName == "peer")
        {
            var peerState = new GrainState<PeerState>();
            await storage.ReadStateAsync(stateName, grain.GetGrainId(), peerState);
            return peerState.RecordExists;
        }
        var meshState = new GrainState<MeshState>();
        await storage.ReadStateAsync(stateName, grain.GetGrainId(), meshState);
        return meshState.RecordExists;
    }
}

using Orleans.Concurrency;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// The peer grain's backstop: a connection whose gateway stops reporting it is reaped once its lease
/// (last reported frame + stale timeout + two report intervals) runs out, and the mesh's gateways hear of it
/// once, on their streams.
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class LeaseReapingTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();
    private static readonly double Lease = GrainClusterFixture.Lease.TotalSeconds;
    private static readonly double Stale = GrainClusterFixture.StaleTimeout.TotalSeconds;

    // Timestamps are ms-precise on both sides; allow for that and for the double arithmetic.
    private const double Precision = 0.005;

    // How late after its lease ran out a reap may arrive: a reap-check interval, a stream poll, a noisy VM.
    private const double Lateness = 2.0;

    [Fact]
    public async Task A_connection_that_is_never_renewed_is_reaped_once_after_its_lease()
    {
        var mesh = GrainClusterFixture.NewMesh("reap");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "silent");
        var connection = new ConnectionKey(gateway, 5);

        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        Assert.Contains(await fixture.RemindersOf(peer), name => name == "reap");

        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);

        Assert.Equal(mesh, reaped.Mesh);
        Assert.Equal("silent", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
        Assert.InRange(at - connectedAt, Lease - Precision, Lease + Lateness);

        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
        Assert.Empty(await peer.GetConnections());
        // The gateway's own close/reap arriving late must not announce offline a second time.
        Assert.False((await peer.Disconnect(connection)).WentOffline);
        // Nothing left to reap, so the reminder is gone (Disconnect above ran after the reaping turn finished).
        Assert.DoesNotContain(await fixture.RemindersOf(peer), name => name == "reap");

        await AssertNoMoreReapsOf(probe, mesh, gateway, "silent");
    }

    [Fact]
    public async Task Regular_renewals_keep_the_peer_online_and_the_reap_comes_a_lease_after_the_last_one()
    {
        var mesh = GrainClusterFixture.NewMesh("renew");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "chatty");
        var connection = new ConnectionKey(gateway, 9);

        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        await using var renewer = Renewer.Start(peer, gateway, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval);

        // Renew for several stale timeouts (more than two leases). The window is timed by the renewals themselves.
        var windowEnd = connectedAt + 3.5 * Stale;
        while (Unix.Now() < windowEnd)
        {
            Assert.Equal([connection], await peer.GetConnections());
            await Task.Delay(GrainClusterFixture.LivenessReportInterval); // pacing the checks, not synchronising
        }
        Assert.Equal([connection], await peer.GetConnections());
        Assert.Equal("chatty", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        var lastRenew = await renewer.StopAsync();
        Assert.True(renewer.Count >= 10, $"only {renewer.Count} renewals");

        // The first event on the stream is the reap after renewals stopped: no reap happened during the window.
        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("chatty", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
        Assert.True(at >= lastRenew + Stale, $"reaped {at - lastRenew:F3} s after the last renewal (stale timeout {Stale} s)");
        Assert.InRange(at - lastRenew, Lease - Precision, Lease + Lateness);
        Assert.True(at - connectedAt > 3.5 * Stale);
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task A_renewed_frame_older_than_the_known_one_does_not_shorten_the_lease()
    {
        var mesh = GrainClusterFixture.NewMesh("older");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "p");
        var connection = new ConnectionKey(gateway, 1);

        var connectedAt = Unix.Now();
        await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        // A late report about an earlier frame (e.g. reordered across silos) must not move the lease backwards.
        await peer.Renew(gateway, [connection.ConnectionId], connectedAt - 60);

        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("p", reaped.PeerId);
        Assert.True(at - connectedAt >= Lease - Precision, $"reaped {at - connectedAt:F3} s after connect (lease {Lease} s)");
    }

    [Fact]
    public async Task When_one_lease_expires_but_another_connection_is_renewed_the_peer_stays_online()
    {
        var mesh = GrainClusterFixture.NewMesh("partial");
        var gw1 = GrainClusterFixture.NewGateway("dead");
        var gw2 = GrainClusterFixture.NewGateway("live");
        await using var probe1 = await GatewayProbe.SubscribeAsync(fixture.Client, gw1);
        await using var probe2 = await GatewayProbe.SubscribeAsync(fixture.Client, gw2);
        var peer = fixture.Peer(mesh, "tabs");
        var stale = new ConnectionKey(gw1, 1);
        var renewed = new ConnectionKey(gw2, 1);

        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(stale, null), Metadata, connectedAt);
        Assert.False((await peer.Connect(new MemberConnection(renewed, null), Metadata, connectedAt)).CameOnline);
        await using var renewer = Renewer.Start(peer, gw2, [renewed.ConnectionId], GrainClusterFixture.LivenessReportInterval);

        // The partial expiry reaches the gateways as a reap that is not an offline: they drop that connection.
        var (partial, partialAt) = await probe2.NextReapedAsync(GrainClusterFixture.EventTimeout, offlineOnly: false);
        Assert.False(partial.Offline);
        Assert.Equal([stale], partial.Connections);
        var connections = await peer.GetConnections();
        var droppedAt = partialAt;
        Assert.Equal([renewed], connections);
        Assert.True(droppedAt - connectedAt >= Lease - Precision, $"dropped {droppedAt - connectedAt:F3} s after connect (lease {Lease} s)");

        // Still online: on the roster, its surviving connection kept, and a late report about the dropped
        // connection does not bring it back.
        Assert.Equal("tabs", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        await peer.Renew(gw1, [stale.ConnectionId], Unix.Now());
        Assert.Equal([renewed], await peer.GetConnections());
        Assert.False((await peer.Disconnect(stale)).WentOffline);
        Assert.Equal([renewed], await peer.GetConnections());

        // Keep renewing past another full lease after the drop, then stop: the next offline either gateway gets
        // is the final reap, listing only the renewed connection.
        while (Unix.Now() < droppedAt + Lease + 0.2)
        {
            Assert.Equal([renewed], await peer.GetConnections());
            await Task.Delay(GrainClusterFixture.LivenessReportInterval); // pacing the checks, not synchronising
        }
        // The dead gateway's only connection expired, so the mesh stopped counting it: only the live one hears more.
        var lastRenew = await renewer.StopAsync();
        foreach (var probe in new[] { probe2 })
        {
            var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
            Assert.Equal("tabs", reaped.PeerId);
            Assert.Equal(join.Incarnation, reaped.Incarnation);
            Assert.Equal([renewed], reaped.Connections);
            Assert.True(at >= lastRenew + Lease - Precision, $"{probe.GatewayId}: reaped {at - lastRenew:F3} s after the last renewal");
        }
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task A_reap_reaches_every_gateway_of_the_mesh_once()
    {
        var mesh = GrainClusterFixture.NewMesh("multi");
        var gw1 = GrainClusterFixture.NewGateway("gw1");
        var gw2 = GrainClusterFixture.NewGateway("gw2");
        var gw3 = GrainClusterFixture.NewGateway("gw3"); // holds only another member of the mesh
        var elsewhere = GrainClusterFixture.NewGateway("other"); // holds members of another mesh only
        await using var probe1 = await GatewayProbe.SubscribeAsync(fixture.Client, gw1);
        await using var probe2 = await GatewayProbe.SubscribeAsync(fixture.Client, gw2);
        await using var probe3 = await GatewayProbe.SubscribeAsync(fixture.Client, gw3);
        await using var probeElsewhere = await GatewayProbe.SubscribeAsync(fixture.Client, elsewhere);
        var a = fixture.Peer(mesh, "a");
        var b = fixture.Peer(mesh, "b");
        var other = fixture.Peer(GrainClusterFixture.NewMesh("othermesh"), "a");
        var a1 = new ConnectionKey(gw1, 1);
        var a2 = new ConnectionKey(gw2, 1);
        var b3 = new ConnectionKey(gw3, 1);
        var otherConnection = new ConnectionKey(elsewhere, 1);

        var now = Unix.Now();
        await b.Connect(new MemberConnection(b3, null), Metadata, now);
        await using var keepB = Renewer.Start(b, gw3, [b3.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        await other.Connect(new MemberConnection(otherConnection, null), Metadata, now);
        await using var keepOther = Renewer.Start(other, elsewhere, [otherConnection.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        var connectedAt = Unix.Now();
        var join = await a.Connect(new MemberConnection(a1, null), Metadata, connectedAt);
        Assert.False((await a.Connect(new MemberConnection(a2, null), Metadata, connectedAt)).CameOnline);

        foreach (var probe in new[] { probe1, probe2, probe3 })
        {
            var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
            Assert.Equal(mesh, reaped.Mesh);
            Assert.Equal("a", reaped.PeerId);
            Assert.Equal(join.Incarnation, reaped.Incarnation);
            Assert.Equal(Keys.Sorted(a1, a2), Keys.Sorted(reaped.Connections));
            Assert.True(at - connectedAt >= Lease - Precision, $"{probe.GatewayId}: reaped {at - connectedAt:F3} s after connect");
        }
        Assert.Equal("b", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);
        Assert.Empty(await a.GetConnections());
        Assert.False((await a.Disconnect(a1)).WentOffline);
        Assert.False((await a.Disconnect(a2)).WentOffline);

        // Fence: let b go too. gw1 and gw2 lost every connection they held in the mesh, so the mesh presumes them
        // dead and stops telling them; on gw3 the next reap is b's, not a second one for a.
        await keepB.StopAsync();
        foreach (var probe in new[] { probe3 })
        {
            var (reaped, _) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
            Assert.Equal("b", reaped.PeerId);
            Assert.Equal([b3], reaped.Connections);
        }
        // Another mesh's gateway heard nothing about this mesh; its own peer is still online.
        Assert.Equal(0, probeElsewhere.Pending);
        Assert.Equal([otherConnection], await other.GetConnections());
        await keepOther.StopAsync();
        var (otherReaped, _) = await probeElsewhere.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.NotEqual(mesh, otherReaped.Mesh);
    }

    /// <summary>Proves no second reap of <paramref name="peerId"/> is on its way: another peer of the same mesh on
    /// the same gateway is connected and left to expire; streams keep order, so its reap must be the next event.</summary>
    private async Task AssertNoMoreReapsOf(GatewayProbe probe, string mesh, string gateway, string peerId)
    {
        var fence = fixture.Peer(mesh, peerId + "-fence");
        await fence.Connect(new MemberConnection(new ConnectionKey(gateway, 1_000_000), null), Metadata, Unix.Now());
        var (next, _) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal(peerId + "-fence", next.PeerId);
    }
}

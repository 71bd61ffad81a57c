using Orleans.Concurrency;
using Orleans.Core.Internal;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// A peer grain must survive the loss of its activation (its silo failed or shut down, or it was deactivated):
/// the in-activation reap timer dies with it, so the reminder brings the grain back, and the new activation
/// works from the persisted state ("relay" grain storage).
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class ReactivationTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();
    private static readonly double Lease = GrainClusterFixture.Lease.TotalSeconds;

    // What a grain timer's tick looks like to an incoming grain call filter in Orleans 10.
    private const string TimerTick = "InvokeCallbackAsync";

    // The reap is due about 1.5 s after connect; fail well before the suite's budget if it never comes.
    private static readonly TimeSpan ReapTimeout = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task A_deactivated_peer_grain_is_reactivated_by_its_reminder_and_reaps_from_persisted_state()
    {
        var mesh = GrainClusterFixture.NewMesh("reminder");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "orphan");
        var grainId = peer.GetGrainId();

        // Second incarnation, so the reap can only carry the right number if the new activation loaded the state.
        var earlier = new ConnectionKey(gateway, 1);
        var earlierIncarnation = (await peer.Connect(new MemberConnection(earlier, null), Metadata, Unix.Now())).Incarnation;
        // That activation goes once the peer is offline (it keeps nothing): its calls are not the new one's.
        var earlierActivation = fixture.CurrentActivation(peer);
        Assert.True((await peer.Disconnect(earlier)).WentOffline);
        var connection = new ConnectionKey(gateway, 2);
        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        Assert.True(join.Incarnation > earlierIncarnation, $"incarnation {join.Incarnation} after {earlierIncarnation}");
        Assert.Contains(await fixture.RemindersOf(peer), name => name == "reap");

        // Drop the activation (and with it the reap timer), as a lost silo would.
        var first = await DeactivateAsync(peer);
        Assert.True(Unix.Now() - connectedAt < Lease, "deactivation took longer than the lease; the test would prove nothing");

        // Only the reminder may bring it back: the test makes no call to the grain until the reap arrived.
        (PeerReaped Reaped, double At) received;
        try
        {
            received = await probe.NextReapedAsync(ReapTimeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"No PeerReaped within {ReapTimeout}; reminder ticks delivered to a new activation: " +
                $"{fixture.Calls.For(grainId).Count(c => c.Activation != first)}; the grain now: {await Describe(peer)}");
            throw;
        }
        var (reaped, at) = received;
        Assert.Equal(mesh, reaped.Mesh);
        Assert.Equal("orphan", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
        Assert.True(at - connectedAt >= Lease - 0.005, $"reaped {at - connectedAt:F3} s after connect (lease {Lease} s)");

        // It was a reminder tick that created the new activation (the filter records calls as they start); until
        // the reap arrived nothing else reached it but its own reap timer (grain timer ticks pass the call filter
        // as InvokeCallbackAsync), and that activation is the one that did the reaping.
        var callsSince = fixture.Calls.For(grainId).Where(c => c.Activation != first && c.Activation != earlierActivation && c.At <= at).ToList();
        Assert.NotEmpty(callsSince);
        Assert.Equal(nameof(IRemindable.ReceiveReminder), callsSince[0].Method);
        Assert.All(callsSince, c => Assert.Contains(c.Method, new[] { nameof(IRemindable.ReceiveReminder), TimerTick }));
        Assert.All(callsSince, c => Assert.Equal(callsSince[0].Activation, c.Activation));
        // That activation keeps nothing once the peer is offline, and goes.
        Assert.True(fixture.CurrentActivation(peer) is not { } now || now == callsSince[0].Activation);

        Assert.Empty(await peer.GetConnections());
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
        Assert.False((await peer.Disconnect(connection)).WentOffline);
        Assert.DoesNotContain(await fixture.RemindersOf(peer), name => name == "reap");

        // Exactly one reap: a fence peer's reap is the next event on the stream.
        var fence = fixture.Peer(mesh, "fence");
        await fence.Connect(new MemberConnection(new ConnectionKey(gateway, 3), null), Metadata, Unix.Now());
        var (next, _) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("fence", next.PeerId);
    }

    [Fact]
    public async Task A_reactivated_peer_grain_still_knows_its_connections_and_incarnation()
    {
        var mesh = GrainClusterFixture.NewMesh("reload");
        var gw1 = GrainClusterFixture.NewGateway("gw1");
        var gw2 = GrainClusterFixture.NewGateway("gw2");
        var peer = fixture.Peer(mesh, "p");
        var c1 = new ConnectionKey(gw1, 1);
        var c2 = new ConnectionKey(gw2, 1);
        var now = Unix.Now();
        var join = await peer.Connect(new MemberConnection(c1, null), Metadata, now);
        await peer.Connect(new MemberConnection(c2, null), Metadata, now);
        // Keep both leases fresh so nothing is reaped while the test runs.
        await using var renew1 = Renewer.Start(peer, gw1, [c1.ConnectionId], GrainClusterFixture.LivenessReportInterval);
        await using var renew2 = Renewer.Start(peer, gw2, [c2.ConnectionId], GrainClusterFixture.LivenessReportInterval);

        await DeactivateAsync(peer);

        // Every call needs a new activation, which first reads the persisted state.
        ConnectionKey[] connections;
        try
        {
            connections = await peer.GetConnections();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Assert.Fail($"The peer grain could not be re-activated from its persisted state: {ex.GetType().Name}: {ex.Message}");
            throw;
        }
        Assert.Equal(Keys.Sorted(c1, c2), Keys.Sorted(connections));
        await renew1.StopAsync();
        await renew2.StopAsync();
        Assert.False((await peer.Disconnect(c1)).WentOffline);
        Assert.True((await peer.Disconnect(c2)).WentOffline);
        var again = await peer.Connect(new MemberConnection(new ConnectionKey(gw1, 2), null), Metadata, Unix.Now());
        Assert.True(again.CameOnline);
        Assert.True(again.Incarnation > join.Incarnation, $"incarnation {again.Incarnation} after {join.Incarnation}");
        Assert.True((await peer.Disconnect(new ConnectionKey(gw1, 2))).WentOffline);
    }

    [Fact]
    public async Task A_peer_grain_told_to_watch_its_leases_after_losing_its_activation_never_reaps_before_the_lease_of_an_unwritten_renewal()
    {
        var mesh = GrainClusterFixture.NewMesh("restored");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "chatty");
        var connection = new ConnectionKey(gateway, 1);
        var connectedAt = Unix.Now();
        await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);

        // The gateway reports a frame just under one write interval after the written one: the activation holds it,
        // the store does not.
        var writeInterval = GrainClusterFixture.LivenessReportInterval.TotalSeconds; // LivenessOptions.LeaseWriteInterval
        var reportedFrame = connectedAt + writeInterval - 0.01;
        await peer.Renew(gateway, [connection.ConnectionId], reportedFrame);

        // The activation is lost with its silo (and the gateway with its node: nobody renews); a mesh grain told of
        // the node's death has the grain watch its leases.
        await DeactivateAsync(peer);
        await fixture.Mesh(mesh).GatewayLost(GrainClusterFixture.NewGateway("survivor"), gateway, ["chatty"]);

        // The decision is the peer grain's call to the mesh grain (the stream's delivery adds its poll to it): not before
        // the lease of the last reported frame, which the new activation never saw, and within the lease of the written
        // one plus the write interval it allows for (and slack for a loaded machine).
        var meshId = fixture.Mesh(mesh).GetGrainId();
        var expired = await fixture.Calls.WaitForAsync(c => c.Grain == meshId && c.Method == nameof(IMeshGrain.Expired),
            GrainClusterFixture.EventTimeout, "the peer grain reports the expiry to the mesh grain");
        Assert.True(expired.At >= reportedFrame + Lease - 0.005, $"reaped {expired.At - reportedFrame:F3} s after the last reported frame (lease {Lease} s)");
        Assert.True(expired.At <= connectedAt + Lease + writeInterval + 1.0, $"reaped {expired.At - connectedAt:F3} s after the written frame");

        var (reaped, _) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("chatty", reaped.PeerId);
        Assert.Equal([connection], reaped.Connections);
    }

    /// <summary>Deactivates the grain's current activation and waits until it is gone; returns its id.</summary>
    private async Task<Orleans.Runtime.ActivationId> DeactivateAsync(IPeerGrain peer)
    {
        var first = fixture.CurrentActivation(peer) ?? throw new InvalidOperationException("peer grain not active");
        var gone = fixture.Cluster.WaitForDeactivationAsync(peer);
        await peer.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await gone.WaitAsync(GrainClusterFixture.EventTimeout);
        Assert.NotEqual(first, fixture.CurrentActivation(peer)); // none, or already a new one
        return first;
    }

    private static async Task<string> Describe(IPeerGrain peer)
    {
        try
        {
            return $"GetConnections() = [{string.Join(", ", await peer.GetConnections())}]";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"GetConnections() threw {ex.GetType().Name}: {ex.Message} / {ex.InnerException?.Message}";
        }
    }
}

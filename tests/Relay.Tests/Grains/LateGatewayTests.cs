using Orleans.Concurrency;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Grains;

/// <summary>
/// A lease that runs out while its gateway still sends heartbeats belongs to a gateway that is late (starved of CPU),
/// not gone: the peer grain holds it, a late renewal keeps the peer online, and the peer is reaped only once the
/// heartbeats stop, or at the hold's limit (lease + stale timeout) if its gateway never renews it again.
/// </summary>
[Collection(GrainClusterDefinition.Name)]
public sealed class LateGatewayTests(GrainClusterFixture fixture)
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();
    private static readonly double Lease = GrainClusterFixture.Lease.TotalSeconds;
    private static readonly double Stale = GrainClusterFixture.StaleTimeout.TotalSeconds;
    private static readonly double Interval = GrainClusterFixture.LivenessReportInterval.TotalSeconds;

    // LivenessOptions.GatewaySilence and LeaseHoldLimit at the fixture's timings.
    private static readonly double Silence = 3 * Interval;
    private static readonly double HoldLimit = Lease + Stale;

    private const double Precision = 0.005;

    // How late a reap may arrive after it is due: a report interval (the grain asks again once per interval), a stream
    // poll, a noisy VM.
    private const double Lateness = 2.0;

    [Fact]
    public async Task A_renewal_that_comes_after_the_lease_ran_out_keeps_the_peer_online()
    {
        var mesh = GrainClusterFixture.NewMesh("late");
        var gateway = GrainClusterFixture.NewGateway("busy");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "alive");
        var connection = new ConnectionKey(gateway, 1);
        await using var heartbeats = Heartbeats.Start(fixture.Gateway(gateway));

        var connectedAt = Unix.Now();
        await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);

        // No renewal for longer than the lease, as from a gateway too busy to report: the peer is held.
        await WaitUntilAsync(connectedAt + Lease + 2 * Interval);
        Assert.True((await peer.GetConnections()).SequenceEqual([connection]),
            $"reaped during the hold; the longest gap between heartbeats was {heartbeats.LongestGap.TotalMilliseconds} ms (gateway silence {Silence * 1000} ms)");
        await peer.Renew(gateway, [connection.ConnectionId], Unix.Now());
        var renewedAt = Unix.Now();

        // Held and then renewed, it is still the peer the mesh lists.
        Assert.Equal([connection], await peer.GetConnections());
        Assert.Equal("alive", Assert.Single(await fixture.Mesh(mesh).GetRoster()).PeerId);

        // The first reap on the stream comes a hold limit after the renewal: none was announced during the hold. The
        // renewal is a new lease, held to the limit measured from the renewed frame.
        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("alive", reaped.PeerId);
        Assert.InRange(at - renewedAt, HoldLimit - Interval - Precision, HoldLimit + Lateness);
    }

    [Fact]
    public async Task A_lease_of_a_gateway_that_keeps_its_heartbeats_but_never_renews_is_reaped_at_the_hold_limit()
    {
        var mesh = GrainClusterFixture.NewMesh("limit");
        var gateway = GrainClusterFixture.NewGateway("forgetful");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "lost");
        var connection = new ConnectionKey(gateway, 1);
        await using var heartbeats = Heartbeats.Start(fixture.Gateway(gateway));

        var connectedAt = Unix.Now();
        await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);

        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("lost", reaped.PeerId);
        Assert.Equal([connection], reaped.Connections);
        Assert.True(at - connectedAt >= HoldLimit - Precision,
            $"reaped {at - connectedAt:F3} s after connect, before the hold limit; the longest gap between heartbeats was {heartbeats.LongestGap.TotalMilliseconds} ms (gateway silence {Silence * 1000} ms)");
        Assert.InRange(at - connectedAt, HoldLimit - Precision, HoldLimit + Lateness);
        Assert.Empty(await fixture.Mesh(mesh).GetRoster());
    }

    [Fact]
    public async Task A_gateway_whose_heartbeats_stopped_before_the_lease_ran_out_is_reaped_on_the_lease()
    {
        var mesh = GrainClusterFixture.NewMesh("died");
        var gateway = GrainClusterFixture.NewGateway("dead");
        await using var probe = await GatewayProbe.SubscribeAsync(fixture.Client, gateway);
        var peer = fixture.Peer(mesh, "orphan");
        var connection = new ConnectionKey(gateway, 1);
        var heartbeats = Heartbeats.Start(fixture.Gateway(gateway));

        // The gateway dies a little after the peer's frame: its heartbeats stop with it.
        var connectedAt = Unix.Now();
        await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        await WaitUntilAsync(connectedAt + Interval);
        var lastHeartbeat = await heartbeats.StopAsync();
        Assert.True(lastHeartbeat + Silence < connectedAt + Lease, "the heartbeats ran too long for this test's point");

        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout);
        Assert.Equal("orphan", reaped.PeerId);
        // On the lease, as before heartbeats existed: nowhere near the hold limit, a stale timeout later.
        Assert.InRange(at - connectedAt, Lease - Precision, HoldLimit - Precision);
    }

    [Fact]
    public async Task A_gateway_grain_says_reporting_for_the_gateway_silence_after_the_last_heartbeat()
    {
        var gateway = fixture.Gateway(GrainClusterFixture.NewGateway("beating"));
        Assert.False(await gateway.IsReporting()); // a new activation has heard nothing

        await gateway.Heartbeat();
        var heartbeatAt = Unix.Now();
        Assert.True(await gateway.IsReporting());

        var deadline = heartbeatAt + GrainClusterFixture.EventTimeout.TotalSeconds;
        while (await gateway.IsReporting())
        {
            Assert.True(Unix.Now() < deadline, "still reporting long after the last heartbeat");
            await Task.Delay(TimeSpan.FromMilliseconds(20)); // pacing the polls of the window under test
        }
        Assert.InRange(Unix.Now() - heartbeatAt, Silence - Precision, Silence + Lateness);
    }

    /// <summary>Lets the grain's timers run for a while: the test's subject is what they do in that time.</summary>
    private static async Task WaitUntilAsync(double unixTime)
    {
        var wait = unixTime - Unix.Now();
        if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait)); // the window under test, not synchronisation
    }
}

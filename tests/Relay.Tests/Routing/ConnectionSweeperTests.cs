using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Concurrency;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Routing;

/// <summary>
/// The sweep's reaps when this node itself stalled (bench/results/2026-12-04-scale-cluster-100k.md: live peers reaped
/// because their heartbeats sat unread while the node could not run): the stale timeout counts from when the node
/// could last have read a socket, so a stall is no peer's silence, but a peer that is truly silent is still reaped once
/// the stall's credit is used up. The sweep is called tick by tick on fake time; peer grains are fakes.
/// </summary>
public sealed class ConnectionSweeperTests : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Stale = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly ConnectionRegistry _connections = new();
    private readonly MeshRegistry _meshes;
    private readonly ConnectionSweeper _sweeper;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _measured = new();
    private readonly long _origin;

    public ConnectionSweeperTests()
    {
        _origin = _time.GetTimestamp();
        var meters = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.Start();

        var metrics = new RelayMetrics(meters);
        var liveness = Options.Create(new LivenessOptions { StaleTimeout = Stale, ReapCheckInterval = Period });
        var relay = Options.Create(new RelayOptions());
        var gateway = new GatewayIdentity();
        var grains = DispatchProxy.Create<IGrainFactory, DepartingPeers>();
        var lag = new SchedulingLag(liveness, _time);
        _meshes = new MeshRegistry(gateway, TestConnections.StoppedLinks(), grains, relay, NullLogger<MeshRegistry>.Instance);
        var membership = new PeerMembership(
            grains, gateway, new TransitionGates(), _meshes, _connections, lag, _time, liveness, relay, listeners: [],
            NullLogger<PeerMembership>.Instance);
        _sweeper = new ConnectionSweeper(
            _connections, _meshes, membership, lag, new ErrorReplies(metrics, _time), metrics, liveness, relay, _time,
            NullLogger<ConnectionSweeper>.Instance);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _sweeper.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task A_stall_is_no_peers_silence_but_a_silent_peer_is_reaped_once_the_stall_is_credited()
    {
        var live = Registered("live");
        var silent = Registered("silent");
        await _sweeper.SweepAsync();
        // Both peers' last frames were read at 0 s; the next heartbeats are due at 20 s.
        await SweepEverySecondAsync(until: TimeSpan.FromSeconds(25));

        // The node runs nothing for 10 s: the next sweep comes at 36 s, its reads (live's heartbeat of 20 s among them)
        // after it. At 36 s both look 36 s silent by the clock, but 9.75 s of it was the node's own stall.
        _time.Advance(Period + TimeSpan.FromSeconds(10));
        await _sweeper.SweepAsync();
        Assert.True(live.Registered && silent.Registered, "a peer was reaped for a stall of its node");
        Assert.Equal(2, _measured.GetValueOrDefault("relay.connections.reaps_deferred"));
        var lagged = _measured.GetValueOrDefault("relay.scheduling.lag");
        Assert.Equal(10 - SchedulingLag.Tolerance.TotalSeconds, lagged, precision: 6);
        Assert.Equal(0, _measured.GetValueOrDefault("relay.connections.reaped"));

        // The reads run: live's heartbeat is read now. The silent peer is reaped once its silence less the stall makes
        // a stale timeout, at 30 + 9.75 s: at the first sweep from then on (40 s), not before.
        live.Touch(_time.GetTimestamp());
        await SweepEverySecondAsync(until: TimeSpan.FromSeconds(39));
        Assert.True(silent.Registered, "reaped before the stall's credit was used up");
        _time.Advance(Period);
        await _sweeper.SweepAsync();

        Assert.False(silent.Registered);
        Assert.True(live.Registered);
        Assert.Equal(1, _measured.GetValueOrDefault("relay.connections.reaped"));
    }

    [Fact]
    public async Task Without_a_stall_a_silent_peer_is_reaped_at_the_stale_timeout_as_before()
    {
        var silent = Registered("silent");
        await _sweeper.SweepAsync();
        await SweepEverySecondAsync(until: Stale - Period);
        Assert.True(silent.Registered);

        _time.Advance(Period);
        await _sweeper.SweepAsync();

        Assert.False(silent.Registered);
        Assert.Equal(0, _measured.GetValueOrDefault("relay.connections.reaps_deferred"));
        Assert.Equal(0, _measured.GetValueOrDefault("relay.scheduling.lag"));
    }

    [Fact]
    public async Task A_stall_is_no_connections_delay_in_registering_but_the_deadline_still_closes_one_that_never_does()
    {
        var timeout = new RelayOptions().RegistrationTimeout;
        var waiting = Opened();
        var idle = Opened();
        await _sweeper.SweepAsync();
        await SweepEverySecondAsync(until: timeout - TimeSpan.FromSeconds(5));

        // The node runs nothing for 10 s, past both deadlines by the clock; waiting's presence sits unread meanwhile.
        _time.Advance(Period + TimeSpan.FromSeconds(10));
        await _sweeper.SweepAsync();
        Assert.False(waiting.IsClosing || idle.IsClosing, "a connection was closed for its node's stall");

        // The reads run: waiting registers. The other is closed once the deadline plus the stall has passed.
        waiting.PeerId = "waiting";
        _meshes.TryJoin("mesh")!.Register(waiting, "{}"u8.ToArray(), UnixTime.Now(_time), incarnation: 1,
            RelayFrames.Presence("waiting", "{}"u8.ToArray(), UnixTime.Now(_time)));
        await SweepEverySecondAsync(until: timeout + TimeSpan.FromSeconds(9));
        Assert.False(idle.IsClosing, "closed before the stall's credit was used up");
        await SweepEverySecondAsync(until: timeout + TimeSpan.FromSeconds(11));

        Assert.True(idle.IsClosing);
        Assert.False(waiting.IsClosing);
    }

    /// <summary>Sweeps once a second, on schedule, until <paramref name="until"/> after the test's start.</summary>
    private async Task SweepEverySecondAsync(TimeSpan until)
    {
        while (Since() + Period <= until)
        {
            _time.Advance(Period);
            await _sweeper.SweepAsync();
        }
    }

    private TimeSpan Since() => _time.GetElapsedTime(_origin);

    private RelayConnection Opened()
    {
        var socket = WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true });
        var connection = TestConnections.Create(_connections.NextId(), "mesh", socket, time: _time);
        _connections.Add(connection);
        connection.StartRegistrationDeadline(new RelayOptions().RegistrationTimeout);
        return connection;
    }

    private RelayConnection Registered(string peerId)
    {
        var socket = WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true });
        var connection = TestConnections.Create(_connections.NextId(), "mesh", socket, time: _time);
        connection.PeerId = peerId;
        _connections.Add(connection);
        var mesh = _meshes.TryJoin("mesh")!;
        var presence = RelayFrames.Presence(peerId, "{}"u8.ToArray(), UnixTime.Now(_time));
        mesh.Register(connection, "{}"u8.ToArray(), UnixTime.Now(_time), incarnation: 1, presence);
        connection.Touch(_time.GetTimestamp());
        return connection;
    }

    private void Add(string instrument, double value) => _measured.AddOrUpdate(instrument, value, (_, total) => total + value);

    /// <summary>Answers GetGrain with a peer grain that lets every connection leave as the peer's last (offline goes
    /// out); nothing else of the factory is used.</summary>
    public class DepartingPeers : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) ? new DepartingPeer() : throw new NotSupportedException(targetMethod?.Name);
    }

    private sealed class DepartingPeer : IPeerGrain
    {
        public Task<PeerLeave> Disconnect(ConnectionKey connection) => Task.FromResult(new PeerLeave(WentOffline: true, Incarnation: 1, []));

        public Task Renew(string gatewayId, long[] connectionIds, double lastFrame) => throw new NotSupportedException();

        public Task<PeerJoin> Connect(MemberConnection connection, Immutable<byte[]> metadata, double now, string? principal = null) => throw new NotSupportedException();

        public Task<string[]> UpdateMetadata(MemberConnection connection, Immutable<byte[]> metadata, double now) => throw new NotSupportedException();

        public Task WatchLeases() => throw new NotSupportedException();

        public Task<long> OnlineIncarnation() => throw new NotSupportedException();

        public Task<ConnectionKey[]> GetConnections() => throw new NotSupportedException();
    }
}

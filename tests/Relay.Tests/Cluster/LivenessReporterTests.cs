using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Concurrency;
using Relay.Gateway.Cluster;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Cluster;

/// <summary>
/// What a gateway tells peer grains of its connections' frames. A peer grain reaps a stale timeout plus two report
/// intervals after the last frame it heard of, so a gateway that dies must have reported every frame but those of its
/// last two intervals: a frame after a silence is reported at once, and a report that failed is made again. Peer
/// grains are fakes that record the renewals; time is fake.
/// </summary>
public sealed class LivenessReporterTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly ConnectionRegistry _connections = new();
    private readonly RecordingPeers _peers = new();
    private readonly LivenessReporter _reporter;

    public LivenessReporterTests()
    {
        var options = Options.Create(new LivenessOptions { LivenessReportInterval = Interval });
        _reporter = new LivenessReporter(_connections, _peers.Factory(), new GatewayIdentity(), options, _time, NullLogger<LivenessReporter>.Instance);
    }

    public void Dispose() => _reporter.Dispose();

    [Fact]
    public async Task A_frame_after_a_silence_is_reported_at_once()
    {
        var alice = Registered("alice");
        _time.Advance(TimeSpan.FromSeconds(25)); // silent: heard of last at registration
        var frame = Frame(alice);

        var renewal = Assert.Single(_peers.Renewals);
        Assert.Equal((GrainKeys.Peer("mesh", "alice"), alice.Id), (renewal.Key, Assert.Single(renewal.Connections)));
        Assert.Equal(UnixTime.ToUnixSeconds(_time.GetUtcNow()), renewal.LastFrame);
        Assert.Equal(frame, alice.LastReportedFrame);

        // The next periodic report has nothing new to say.
        await _reporter.ReportAsync();
        Assert.Single(_peers.Renewals);
    }

    [Fact]
    public async Task Every_report_sends_the_gateway_heartbeat_even_with_nothing_to_renew()
    {
        await _reporter.ReportAsync();
        Assert.Equal(1, _peers.Heartbeats);

        var alice = Registered("alice");
        _time.Advance(TimeSpan.FromSeconds(1));
        Frame(alice);
        await _reporter.ReportAsync();
        await _reporter.ReportAsync(); // nothing new: no renewal, still a heartbeat

        Assert.Equal(3, _peers.Heartbeats);
        Assert.Single(_peers.Renewals);
    }

    [Fact]
    public async Task Frames_inside_an_interval_of_the_last_report_wait_for_the_periodic_report()
    {
        var alice = Registered("alice");
        _time.Advance(TimeSpan.FromSeconds(1));
        Frame(alice);
        Assert.Empty(_peers.Renewals);

        await _reporter.ReportAsync();
        var renewal = Assert.Single(_peers.Renewals);
        Assert.Equal(UnixTime.ToUnixSeconds(_time.GetUtcNow()), renewal.LastFrame);
    }

    [Fact]
    public async Task A_report_that_failed_is_made_again()
    {
        var alice = Registered("alice");
        _time.Advance(TimeSpan.FromSeconds(1));
        var reportedAt = _time.GetUtcNow();
        Frame(alice);
        _peers.FailNext = true;
        await _reporter.ReportAsync();
        Assert.Single(_peers.Renewals);

        // No frame since: only the failure makes the next report carry it again.
        _time.Advance(Interval);
        await _reporter.ReportAsync();
        Assert.Equal(2, _peers.Renewals.Count);
        Assert.Equal(UnixTime.ToUnixSeconds(reportedAt), _peers.Renewals.Last().LastFrame);

        await _reporter.ReportAsync();
        Assert.Equal(2, _peers.Renewals.Count);
    }

    [Fact]
    public void An_unregistered_connection_is_never_reported()
    {
        var stranger = TestConnections.Create(_connections.NextId(), "mesh", Socket());
        _connections.Add(stranger);
        _time.Advance(TimeSpan.FromSeconds(25));
        Frame(stranger);
        Assert.Empty(_peers.Renewals);
    }

    private RelayConnection Registered(string peerId)
    {
        var connection = TestConnections.Create(_connections.NextId(), "mesh", Socket());
        connection.PeerId = peerId;
        connection.Registered = true;
        connection.Touch(_time.GetTimestamp());
        connection.LastReportedFrame = connection.LastFrame; // as registration does: Connect started the lease
        _connections.Add(connection);
        return connection;
    }

    private long Frame(RelayConnection connection)
    {
        var now = _time.GetTimestamp();
        connection.Touch(now);
        _reporter.FrameReceived(connection, now);
        return now;
    }

    private static WebSocket Socket() => WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true });

    internal sealed record Renewal(string Key, long[] Connections, double LastFrame);

    internal sealed class RecordingPeers
    {
        public ConcurrentQueue<Renewal> Renewals { get; } = new();

        public int Heartbeats => Volatile.Read(ref _heartbeats);

        private int _heartbeats;

        public void Heartbeat() => Interlocked.Increment(ref _heartbeats);

        public bool FailNext { get; set; }

        public IGrainFactory Factory()
        {
            var factory = DispatchProxy.Create<IGrainFactory, FactoryProxy>();
            ((FactoryProxy)(object)factory).Peers = this;
            return factory;
        }

        public Task Renew(string key, long[] connectionIds, double lastFrame)
        {
            Renewals.Enqueue(new Renewal(key, connectionIds, lastFrame));
            if (!FailNext) return Task.CompletedTask;
            FailNext = false;
            return Task.FromException(new TimeoutException("the silo died"));
        }
    }

    /// <summary>Answers GetGrain with a fake peer grain of that key, or the fake gateway grain; nothing else of the
    /// factory is used.</summary>
    public class FactoryProxy : DispatchProxy
    {
        internal RecordingPeers? Peers { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod switch
        {
            { Name: nameof(IGrainFactory.GetGrain) } when targetMethod.GetGenericArguments()[0] == typeof(IGatewayGrain) => new FakeGateway(Peers!),
            { Name: nameof(IGrainFactory.GetGrain) } => new FakePeer(Peers!, (string)args![0]!),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }

    private sealed class FakeGateway(RecordingPeers peers) : IGatewayGrain
    {
        public Task Heartbeat()
        {
            peers.Heartbeat();
            return Task.CompletedTask;
        }

        public Task<bool> IsReporting() => throw new NotSupportedException();

        public Task Register(IGatewayInbox inbox) => throw new NotSupportedException();

        public Task<IGatewayInbox?> GetInbox() => throw new NotSupportedException();

        public Task Unregister() => throw new NotSupportedException();
    }

    private sealed class FakePeer(RecordingPeers peers, string key) : IPeerGrain
    {
        public Task Renew(string gatewayId, long[] connectionIds, double lastFrame) => peers.Renew(key, connectionIds, lastFrame);

        public Task<PeerJoin> Connect(MemberConnection connection, Immutable<byte[]> metadata, double now, string? principal = null) => throw new NotSupportedException();

        public Task<string[]> UpdateMetadata(MemberConnection connection, Immutable<byte[]> metadata, double now) => throw new NotSupportedException();

        public Task<PeerLeave> Disconnect(ConnectionKey connection) => throw new NotSupportedException();

        public Task WatchLeases() => throw new NotSupportedException();

        public Task<long> OnlineIncarnation() => throw new NotSupportedException();

        public Task<ConnectionKey[]> GetConnections() => throw new NotSupportedException();
    }
}

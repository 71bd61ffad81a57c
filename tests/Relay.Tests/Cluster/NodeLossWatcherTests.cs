using System.Net;
using System.Reflection;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Relay.Gateway.Cluster;
using Relay.Gateway.Configuration;
using Relay.Gateway.Routing;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Cluster;

/// <summary>
/// What a gateway does when a silo dies: it has the mesh grains of the members it knows on gateways no live silo is
/// named after watch their leases, at once and then every report interval until no lease from before the death can
/// still run. Once is not enough: Orleans' directory deactivates, on the survivors, the activations whose directory
/// entry the dead silo held, and a report that reached one of them first re-activated nothing (CI: offline 65 s after
/// the last frame, on the reminder). Membership is a fake fed by the test, mesh grains are fakes that record the
/// reports, time is fake.
/// </summary>
public sealed class NodeLossWatcherTests : IAsyncDisposable
{
    private const string Mesh = "mesh";
    private const string Dead = "gateway-dead";
    private const string Live = "gateway-live";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly Channel<IReadOnlyList<ClusterSilo>> _membership = Channel.CreateUnbounded<IReadOnlyList<ClusterSilo>>();
    private readonly RecordingMeshes _reports = new();
    private readonly GatewayIdentity _gateway = new();
    private readonly MeshView _view;
    private readonly NodeLossWatcher _watcher;

    public NodeLossWatcherTests()
    {
        var grains = _reports.Factory();
        var meshes = new MeshRegistry(_gateway, TestConnections.StoppedLinks(), grains, Options.Create(new RelayOptions()), NullLogger<MeshRegistry>.Instance);
        _view = meshes.TryJoin(Mesh)!;
        AddRemote("victim-1", Dead);
        AddRemote("victim-2", Dead);
        AddRemote("stays", Live);
        var liveness = Options.Create(new LivenessOptions { LivenessReportInterval = Interval });
        _watcher = new NodeLossWatcher(new FakeClusterView(_membership.Reader), meshes, _gateway, grains, liveness, _time, NullLogger<NodeLossWatcher>.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        await _watcher.StopAsync(CancellationToken.None);
        _watcher.Dispose();
    }

    [Fact]
    public async Task The_members_of_a_dead_node_are_reported_at_once_and_again_every_report_interval_until_no_lease_from_before_the_death_can_run()
    {
        await _watcher.StartAsync(CancellationToken.None);
        Publish(dead: false);
        Publish(dead: true);

        // 36 s: a restored lease (stale timeout + 2 report intervals + the write interval) from a frame before the death.
        Assert.Equal(TimeSpan.FromSeconds(36), _watcher.RevivalWindow);
        var rounds = (int)(_watcher.RevivalWindow / Interval) + 1;
        for (var round = 0; round < rounds; round++)
        {
            if (round > 0) _time.Advance(Interval);
            var report = await _reports.Next.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            // Only the dead node's members, never those of a gateway a live silo is named after.
            Assert.Equal((_gateway.Id, Dead, "victim-1,victim-2"), (report.Reporter, report.LostGateway, string.Join(',', report.Peers.Order(StringComparer.Ordinal))));
        }

        // The window is over: no more rounds, however long the members stay in the view.
        _time.Advance(Interval);
        await _watcher.LatestRevival.WaitAsync(Wait);
        Assert.Equal(rounds, _reports.Count);
    }

    [Fact]
    public async Task A_round_that_fails_is_made_again_at_the_next_interval()
    {
        _reports.FailNext = true;
        await _watcher.StartAsync(CancellationToken.None);
        Publish(dead: false);
        Publish(dead: true);

        await _reports.Next.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        _time.Advance(Interval);
        await _reports.Next.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(2, _reports.Count);
    }

    [Fact]
    public async Task The_rounds_end_once_the_view_holds_no_member_of_a_dead_node()
    {
        await _watcher.StartAsync(CancellationToken.None);
        Publish(dead: false);
        Publish(dead: true);
        await _reports.Next.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        // Their offlines arrived: nothing is left to revive.
        lock (_view.Membership.Lock)
        {
            _view.Membership.RemoveRemote("victim-1", [new ConnectionKey(Dead, 1)]);
            _view.Membership.RemoveRemote("victim-2", [new ConnectionKey(Dead, 1)]);
        }
        _time.Advance(Interval);
        await _watcher.LatestRevival.WaitAsync(Wait);
        Assert.Equal(1, _reports.Count);
    }

    private void AddRemote(string peerId, string gatewayId)
    {
        lock (_view.Membership.Lock) _view.Membership.AddRemote(peerId, 1, new ConnectionKey(gatewayId, 1), null, "{}"u8.ToArray(), 0);
    }

    /// <summary>A snapshot of three co-hosted nodes (each silo named after its gateway): this one, one that stays and
    /// one that dies.</summary>
    private void Publish(bool dead) => Assert.True(_membership.Writer.TryWrite(
    [
        new ClusterSilo(Silo(1), _gateway.Id, Dead: false),
        new ClusterSilo(Silo(2), Live, Dead: false),
        new ClusterSilo(Silo(3), Dead, dead),
    ]));

    private static SiloAddress Silo(int port) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11110 + port), 1);

    private sealed class FakeClusterView(ChannelReader<IReadOnlyList<ClusterSilo>> snapshots) : IClusterView
    {
        public IAsyncEnumerable<IReadOnlyList<ClusterSilo>> WatchAsync(CancellationToken cancellationToken) => snapshots.ReadAllAsync(cancellationToken);
    }

    internal sealed record Report(string Reporter, string LostGateway, string[] Peers);

    internal sealed class RecordingMeshes
    {
        private int _count;

        public Channel<Report> Next { get; } = Channel.CreateUnbounded<Report>();

        public int Count => Volatile.Read(ref _count);

        public bool FailNext { get; set; }

        public IGrainFactory Factory()
        {
            var factory = DispatchProxy.Create<IGrainFactory, FactoryProxy>();
            ((FactoryProxy)(object)factory).Meshes = this;
            return factory;
        }

        public Task GatewayLost(string reporter, string lostGateway, string[] peerIds)
        {
            Interlocked.Increment(ref _count);
            var fail = FailNext;
            FailNext = false;
            Next.Writer.TryWrite(new Report(reporter, lostGateway, peerIds));
            return fail ? Task.FromException(new TimeoutException("the mesh grain's silo died")) : Task.CompletedTask;
        }
    }

    /// <summary>Answers GetGrain with a fake mesh grain; nothing else of the factory is used.</summary>
    public class FactoryProxy : DispatchProxy
    {
        internal RecordingMeshes? Meshes { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) ? new FakeMesh(Meshes!) : throw new NotSupportedException(targetMethod?.Name);
    }

    private sealed class FakeMesh(RecordingMeshes meshes) : IMeshGrain
    {
        public Task GatewayLost(string reporter, string lostGateway, string[] peerIds) => meshes.GatewayLost(reporter, lostGateway, peerIds);

        public Task<MeshSnapshot> Open(string gatewayId) => throw new NotSupportedException();

        public Task Close(string gatewayId) => throw new NotSupportedException();

        public Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local, PeerIncarnation[] remote) => throw new NotSupportedException();

        public Task<PeerReaped[]> Refresh(string gatewayId, RosterEntry[] local) => throw new NotSupportedException();

        public Task<string[]> Upsert(RosterEntry entry) => throw new NotSupportedException();

        public Task<string[]> Remove(string peerId) => throw new NotSupportedException();

        public Task Expired(string peerId, long incarnation, ConnectionKey[] connections, bool offline, RosterEntry? remaining) => throw new NotSupportedException();

        public Task<RosterEntry[]> GetRoster() => throw new NotSupportedException();
    }
}

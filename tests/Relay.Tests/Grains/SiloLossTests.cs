using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using Relay.Grains.Contracts;
using Relay.Silo.Hosting;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.Tests.Grains;

/// <summary>
/// The grain side of losing a silo (issue #4), in process: each test gets its own two-silo cluster (configured like
/// <see cref="GrainClusterFixture"/>: <see cref="RelaySiloBuilderExtensions.AddRelayGrains"/>, short liveness
/// timings, fast failure detection), finds the silo that hosts the grain under test and kills THAT silo.
/// Grain state ("relay", "PubSubStore") and the reminder table live outside the silos (<see cref="SharedStores"/>),
/// as Redis does in a real cluster, so what survives does not depend on where Orleans put its memory-storage or
/// reminder-table grains.
/// </summary>
public sealed class SiloLossTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly Immutable<byte[]> Metadata = """{"agents":["chat"]}"""u8.ToArray().AsImmutable();
    private static readonly double Lease = GrainClusterFixture.Lease.TotalSeconds;
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);
    private const int NumMissedProbesLimit = 2;

    /// <summary>Time for the survivor to declare a crashed silo dead (missed probes). KillSiloAsync makes the victim
    /// write itself dead at once, so this is an upper bound.</summary>
    private static readonly double FailureDetection = ProbeTimeout.TotalSeconds * NumMissedProbesLimit;

    // Timestamps are ms-precise on both sides; allow for that and for the double arithmetic.
    private const double Precision = 0.005;

    // A noisy 2-core VM: stream polls, directory updates, reminder-range reload.
    private const double Slack = 3.0;

    /// <summary>
    /// How long a gateway stream event can sit in its queue after a silo loss, on top of the grain side: the queue
    /// grains of the "relay" memory streams die with their silo, the survivor's pulling agent fails its next read
    /// of such a queue, and Orleans' default queue-reader backoff for persistent streams
    /// (SiloStreamProviderRuntime: ExponentialBackoff(10 s, 20 s, 1 s)) makes it wait 10-12 s before reading again.
    /// AddRelayGrains keeps that default. Only events on queues read from the dead silo wait.
    /// </summary>
    private const double StreamQueueStall = 12.0;

    // What a grain timer's tick looks like to an incoming grain call filter in Orleans 10.
    private const string TimerTick = "InvokeCallbackAsync";

    private readonly SharedStores _stores = new();
    private readonly GrainCallLog _calls = new();
    private InProcessTestCluster? _cluster;

    private InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("Cluster not deployed.");

    private IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Relay:StaleTimeout"] = GrainClusterFixture.StaleTimeout.ToString("c"),
                ["Relay:ReapCheckInterval"] = GrainClusterFixture.ReapCheckInterval.ToString("c"),
                ["Relay:LivenessReportInterval"] = GrainClusterFixture.LivenessReportInterval.ToString("c"),
                ["Relay:ReminderPeriod"] = GrainClusterFixture.ReminderPeriod.ToString("c"),
            })
            .Build();
        var calls = _calls;
        var stores = _stores;

        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddRelayGrains(configuration);
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = ProbeTimeout;
                o.NumMissedProbesLimit = NumMissedProbesLimit;
                o.NumVotesForDeathDeclaration = 1;
            });
            silo.AddIncomingGrainCallFilter(calls);

            // Registered after AddRelayGrains, so these win over its in-memory providers (last registration wins).
            foreach (var name in new[] { GatewayStreams.Storage, RelaySiloBuilderExtensions.PubSubStore })
            {
                silo.Services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) => new SharedGrainStorage(stores, name, sp.GetRequiredService<Serializer>()));
            }
            silo.Services.AddSingleton<IReminderTable>(stores.Reminders);
        });
        GrainClusterFixture.ConfigureClientAndLogs(builder);
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_peer_whose_silo_dies_while_its_gateway_keeps_reporting_stays_online_on_the_survivor()
    {
        var mesh = GrainClusterFixture.NewMesh("siloloss-live");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(Client, gateway);
        var peer = Client.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, "survivor"));
        var connection = new ConnectionKey(gateway, 1);

        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, Unix.Now());
        // Not the shared Renewer: it awaits each Renew before the next, and a Renew in flight to the killed silo can
        // stay unanswered until the 30 s response timeout (seen with KillSiloAsync), which would stop the reports.
        await using var renewer = Renewer.Start(peer, gateway, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval, overlapping: true);
        // The state is in the store outside the silos, not only in the activation.
        Assert.True(_stores.Contains(GatewayStreams.Storage, peer.GetGrainId()), "peer state was never written to grain storage");
        // The stream pub-sub keeps the gateway's subscription in the storage named like the stream provider ("relay").
        Assert.True(_stores.CountStates(GatewayStreams.Storage, "PubSubRendezvousGrain") > 0, "the gateway's stream subscription was never written to grain storage");

        var (victim, first) = HostOf(peer);
        var (survivor, _, killedAt) = await KillAsync(victim);

        // For two leases after the kill, the live gateway's renewals keep the peer online: it answers from a new
        // activation on the survivor, which knows the connection only from persisted state (Renew adds none).
        var windowEnd = killedAt + 2 * Lease + 0.2;
        var checks = 0;
        while (Unix.Now() < windowEnd)
        {
            Assert.Equal([connection], await CallSurvivingAsync(() => peer.GetConnections(), "GetConnections"));
            checks++;
            await Task.Delay(GrainClusterFixture.LivenessReportInterval); // pacing the checks, not synchronising
        }
        Assert.True(checks >= 5, $"only {checks} checks in the window");
        var (host, activation) = HostOf(peer);
        Assert.Equal(survivor.SiloAddress, host.SiloAddress);
        Assert.NotEqual(first, activation);
        var renewalsAfterKill = renewer.Count;
        output.WriteLine($"renewals unanswered at the end of the window: {renewer.Pending}");
        Assert.True(renewer.LastFrame > killedAt + Lease, $"renewals stopped getting through after the kill (last {renewer.LastFrame - killedAt:F3} s after it)");
        Assert.Equal(0, probe.Pending); // streams keep order; the final reap below is the first event anyway

        // No false offline during the window: the first reap the gateway hears of is the one after renewals stop.
        var lastRenew = await renewer.StopAsync();
        var meshId = Client.GetGrain<IMeshGrain>(mesh).GetGrainId();
        Assert.DoesNotContain(_calls.For(meshId), c => c.Method == nameof(IMeshGrain.Expired)); // the grain side decided nothing
        var (reaped, at) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout + TimeSpan.FromSeconds(StreamQueueStall), offlineOnly: false);
        output.WriteLine($"{renewalsAfterKill} renewals; reaped {at - lastRenew:F3} s after the last renewal, {at - killedAt:F3} s after the kill");
        Assert.True(reaped.Offline);
        Assert.Equal("survivor", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
        Assert.True(at >= lastRenew + Lease - Precision, $"reaped {at - lastRenew:F3} s after the last renewal (lease {Lease} s)");
        Assert.True(at - killedAt > 2 * Lease);
    }

    [Fact]
    public async Task A_peer_whose_silo_and_gateway_both_die_is_reaped_once_by_its_reminder_on_the_survivor()
    {
        var mesh = GrainClusterFixture.NewMesh("siloloss-dead");
        var gateway = GrainClusterFixture.NewGateway("gw");
        await using var probe = await GatewayProbe.SubscribeAsync(Client, gateway);
        var peer = Client.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, "orphan"));
        var grainId = peer.GetGrainId();

        // Second incarnation, so the reap can only carry the right number if the new activation loaded the state.
        var earlierIncarnation = (await peer.Connect(new MemberConnection(new ConnectionKey(gateway, 1), null), Metadata, Unix.Now())).Incarnation;
        // That activation goes once the peer is offline (it keeps nothing): its calls are not the new one's.
        var (_, earlierActivation) = HostOf(peer);
        Assert.True((await peer.Disconnect(new ConnectionKey(gateway, 1))).WentOffline);
        var connection = new ConnectionKey(gateway, 2);
        var connectedAt = Unix.Now();
        var join = await peer.Connect(new MemberConnection(connection, null), Metadata, connectedAt);
        Assert.True(join.Incarnation > earlierIncarnation, $"incarnation {join.Incarnation} after {earlierIncarnation}");
        Assert.Contains(await RemindersOf(grainId), name => name == "reap");

        // The gateway is gone too: nobody renews. Kill the silo before the lease runs out, so the activation that
        // held the reap timer cannot be the one that reaps.
        var (victim, first) = HostOf(peer);
        // The kill must begin within the lease. On a loaded machine it may end after it: then the first activation might
        // have reaped before it stopped, which the checks below would see (the reap must come from a new activation).
        var (_, killStartedAt, killedAt) = await KillAsync(victim);
        Assert.True(killStartedAt - connectedAt < Lease, $"the kill began {killStartedAt - connectedAt:F3} s after connect (lease {Lease} s); the test would prove nothing");

        // Only the reminder may bring it back: no call to the grain until the reap arrived. The grain side decides
        // within: the lease, the survivor noticing the death and taking over the reminder range, one reminder
        // period, one reap-check interval, and slack for the VM.
        var meshId = Client.GetGrain<IMeshGrain>(mesh).GetGrainId();
        var bound = Lease + FailureDetection + GrainClusterFixture.ReminderPeriod.TotalSeconds + GrainClusterFixture.ReapCheckInterval.TotalSeconds + Slack;
        GrainCall expired;
        try
        {
            expired = await _calls.WaitForAsync(c => c.Grain == meshId && c.Method == nameof(IMeshGrain.Expired),
                TimeSpan.FromSeconds(Math.Max(0, connectedAt + bound - Unix.Now())), "the peer grain reports the expiry to the mesh grain");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"No expiry within {bound:F1} s of connect; calls to new activations: " +
                $"[{string.Join(", ", _calls.For(grainId).Where(c => c.Activation != first).Select(c => $"{c.Method}@{c.At - killedAt:F3}"))}]; " +
                $"kill done {killedAt - connectedAt:F3} s after connect");
            throw;
        }
        Assert.InRange(expired.At - connectedAt, Lease - Precision, bound);

        // The gateway hears of it once, over its stream: within the same bound unless its stream queue was read from
        // the dead silo (see StreamQueueStall).
        var deliveryBound = bound + StreamQueueStall;
        (PeerReaped Reaped, double At) received;
        try
        {
            received = await probe.NextReapedAsync(TimeSpan.FromSeconds(Math.Max(0, connectedAt + deliveryBound - Unix.Now())), offlineOnly: false);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The mesh grain took the expiry {expired.At - connectedAt:F3} s after connect, but no PeerReaped reached the gateway within {deliveryBound:F1} s of connect");
            throw;
        }
        var (reaped, at) = received;
        output.WriteLine($"kill done {killedAt - connectedAt:F3} s after connect; expiry at the mesh grain {expired.At - connectedAt:F3} s " +
            $"(bound {bound:F1} s), PeerReaped at the gateway {at - connectedAt:F3} s after connect (bound {deliveryBound:F1} s)");
        Assert.True(reaped.Offline);
        Assert.Equal(mesh, reaped.Mesh);
        Assert.Equal("orphan", reaped.PeerId);
        Assert.Equal(join.Incarnation, reaped.Incarnation);
        Assert.Equal([connection], reaped.Connections);
        Assert.InRange(at - connectedAt, Lease - Precision, deliveryBound);

        // A reminder tick created the new activation, on the survivor; until the reap only the reminder and the
        // activation's own reap timer reached it.
        var callsSince = _calls.For(grainId).Where(c => c.Activation != first && c.Activation != earlierActivation && c.At <= expired.At).ToList();
        Assert.NotEmpty(callsSince);
        output.WriteLine($"first call to the new activation: {callsSince[0].Method}, {callsSince[0].At - killedAt:F3} s after the kill");
        Assert.Equal(nameof(IRemindable.ReceiveReminder), callsSince[0].Method);
        Assert.All(callsSince, c => Assert.Contains(c.Method, new[] { nameof(IRemindable.ReceiveReminder), TimerTick }));
        Assert.All(callsSince, c => Assert.Equal(callsSince[0].Activation, c.Activation));
        // The activation that reaped keeps nothing (the peer is offline) and goes; while it lasts, it is the survivor's.
        if (Cluster.TryGetGrainContext(grainId, out var context))
        {
            Assert.Equal(callsSince[0].Activation, context.ActivationId);
            Assert.NotEqual(victim.SiloAddress, context.Address.SiloAddress);
        }

        Assert.Empty(await peer.GetConnections());
        Assert.Empty(await Client.GetGrain<IMeshGrain>(mesh).GetRoster());
        Assert.False((await peer.Disconnect(connection)).WentOffline);
        Assert.DoesNotContain(await RemindersOf(grainId), name => name == "reap");

        // Exactly one reap: one expiry at the mesh grain, and a fence peer of the same mesh and gateway left to expire
        // has its reap next on the stream (streams keep order).
        var fence = Client.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, "fence"));
        var fenceAt = Unix.Now();
        await fence.Connect(new MemberConnection(new ConnectionKey(gateway, 3), null), Metadata, fenceAt);
        var (next, _) = await probe.NextReapedAsync(GrainClusterFixture.EventTimeout + TimeSpan.FromSeconds(StreamQueueStall), offlineOnly: false);
        Assert.Equal("fence", next.PeerId);
        Assert.Single(_calls.For(meshId), c => c.Method == nameof(IMeshGrain.Expired) && c.At < fenceAt);
    }

    [Fact]
    public async Task The_mesh_roster_lost_with_its_silo_is_healed_by_the_gateways_restatement()
    {
        var mesh = GrainClusterFixture.NewMesh("siloloss-mesh");
        var gateway = GrainClusterFixture.NewGateway("gw");
        var meshGrain = Client.GetGrain<IMeshGrain>(mesh);
        var peer = Client.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, "steady"));
        var connection = new ConnectionKey(gateway, 1);
        var join = await peer.Connect(new MemberConnection(connection, ["chat"]), Metadata, Unix.Now());
        await using var renewer = Renewer.Start(peer, gateway, [connection.ConnectionId], GrainClusterFixture.LivenessReportInterval, overlapping: true);
        Assert.Equal("steady", Assert.Single(await meshGrain.GetRoster()).PeerId);

        var (victim, first) = HostOf(meshGrain);
        await KillAsync(victim);

        // A new mesh activation starts empty (the roster is kept in memory by design), while the peer grain still
        // holds the peer online.
        Assert.Empty(await CallSurvivingAsync(() => meshGrain.GetRoster(), "GetRoster"));
        Assert.NotEqual(first, HostOf(meshGrain).Activation);
        Assert.Equal([connection], await CallSurvivingAsync(() => peer.GetConnections(), "GetConnections"));

        // The gateway's next restatement makes the roster whole again.
        await meshGrain.Refresh(gateway,
            [new RosterEntry("steady", Metadata.Value, Unix.Now(), join.Incarnation, [new MemberConnection(connection, ["chat"])])]);
        var healed = Assert.Single(await meshGrain.GetRoster());
        Assert.Equal("steady", healed.PeerId);
        Assert.Equal(join.Incarnation, healed.Incarnation);
        Assert.Equal([connection], healed.Connections.Select(c => c.Key));
        Assert.Equal("""{"agents":["chat"]}""", Encoding.UTF8.GetString(healed.Metadata));

        await renewer.StopAsync();
        Assert.True((await peer.Disconnect(connection)).WentOffline);
        Assert.Empty(await meshGrain.GetRoster());
    }

    /// <summary>The silo holding the grain's activation, and that activation.</summary>
    private (InProcessSiloHandle Silo, ActivationId Activation) HostOf(IAddressable grain)
    {
        if (!Cluster.TryGetGrainContext(grain.GetGrainId(), out var context))
        {
            throw new InvalidOperationException($"{grain.GetGrainId()} has no activation");
        }
        var address = context.Address.SiloAddress ?? throw new InvalidOperationException($"{grain.GetGrainId()} has no silo address");
        var silo = Cluster.GetSiloForAddress(address)
            ?? throw new InvalidOperationException($"{grain.GetGrainId()} is on unknown silo {context.Address.SiloAddress}");
        return (silo, context.ActivationId);
    }

    /// <summary>Kills <paramref name="victim"/> (a crash: no graceful shutdown) and waits until the survivor's
    /// membership view has it dead. Returns the survivor and when the victim was gone (its host stopped).</summary>
    private async Task<(InProcessSiloHandle Survivor, double StartedAt, double KilledAt)> KillAsync(InProcessSiloHandle victim)
    {
        var survivor = Assert.Single(Cluster.Silos, s => !s.SiloAddress.Equals(victim.SiloAddress));
        var membership = survivor.ServiceProvider.GetRequiredService<IClusterMembershipService>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(FailureDetection + Slack));
        var declaredDead = WaitForDeathAsync(membership, victim.SiloAddress, timeout.Token);
        var started = Unix.Now();
        await Cluster.KillSiloAsync(victim);
        var killedAt = Unix.Now();
        try
        {
            await declaredDead;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The survivor did not see {victim.SiloAddress} dead within {FailureDetection + Slack} s.");
        }
        output.WriteLine($"killed {victim.SiloAddress} in {killedAt - started:F3} s; the survivor saw it dead {Unix.Now() - started:F3} s after the kill began");
        return (survivor, started, killedAt);
    }

    private static async Task WaitForDeathAsync(IClusterMembershipService membership, SiloAddress victim, CancellationToken cancellationToken)
    {
        await Task.Yield();
        await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
        {
            if (snapshot.GetSiloStatus(victim) == SiloStatus.Dead) return;
        }
    }

    /// <summary>
    /// A call right after a kill may still be routed to the dead silo by a cached directory entry and fail; a
    /// gateway would retry at its next report. Retries such failures for a bounded time (the cluster has already
    /// declared the victim dead, so this is the caches catching up), then gives up with the last error.
    /// </summary>
    private async Task<T> CallSurvivingAsync<T>(Func<Task<T>> call, string what)
    {
        var deadline = Unix.Now() + FailureDetection + Slack;
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception ex) when (ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException && Unix.Now() < deadline)
            {
                output.WriteLine($"{what} failed after the kill, retrying: {ex.GetType().Name}: {ex.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(100)); // retry pacing, bounded by the deadline
            }
        }
    }

    private async Task<string[]> RemindersOf(GrainId grain) =>
        [.. (await _stores.Reminders.ReadRows(grain)).Reminders.Select(r => r.ReminderName)];


    /// <summary>
    /// Grain state and reminders kept in the test process, outside every silo: what Redis is to a real cluster. A silo
    /// crash loses neither (with the in-memory providers they live in grains on some silo and can die with it).
    /// </summary>
    private sealed class SharedStores
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<(string Provider, string Key), (byte[] Data, string ETag)> _states = [];

        public SharedReminderTable Reminders { get; } = new();

        public bool Contains(string provider, GrainId grainId)
        {
            lock (_lock) return _states.Keys.Any(k => k.Provider == provider && k.Key.EndsWith("/" + grainId, StringComparison.Ordinal));
        }

        public int CountStates(string provider, string stateName)
        {
            lock (_lock) return _states.Keys.Count(k => k.Provider == provider && k.Key.StartsWith(stateName + "/", StringComparison.Ordinal));
        }

        public (byte[] Data, string ETag)? Read(string provider, string key)
        {
            lock (_lock) return _states.TryGetValue((provider, key), out var entry) ? entry : null;
        }

        public string Write(string provider, string key, byte[] data, string? expectedETag)
        {
            lock (_lock)
            {
                var exists = _states.TryGetValue((provider, key), out var current);
                if (exists ? current.ETag != expectedETag : expectedETag is not null)
                {
                    throw new InconsistentStateException($"ETag mismatch for {key}", current.ETag ?? "", expectedETag ?? "");
                }
                var etag = Guid.NewGuid().ToString("N");
                _states[(provider, key)] = (data, etag);
                return etag;
            }
        }

        public void Delete(string provider, string key, string? expectedETag)
        {
            lock (_lock)
            {
                if (_states.TryGetValue((provider, key), out var current) && current.ETag != expectedETag)
                {
                    throw new InconsistentStateException($"ETag mismatch for {key}", current.ETag, expectedETag ?? "");
                }
                _states.Remove((provider, key));
            }
        }
    }

    /// <summary>One silo's view of a provider in <see cref="SharedStores"/>; state is stored serialized, so silos
    /// share no objects.</summary>
    private sealed class SharedGrainStorage(SharedStores stores, string provider, Serializer serializer) : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (stores.Read(provider, Key(stateName, grainId)) is { } entry)
            {
                grainState.State = serializer.Deserialize<T>(entry.Data);
                grainState.ETag = entry.ETag;
                grainState.RecordExists = true;
            }
            else
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
            }
            return Task.CompletedTask;
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            grainState.ETag = stores.Write(provider, Key(stateName, grainId), serializer.SerializeToArray(grainState.State), grainState.ETag);
            grainState.RecordExists = true;
            return Task.CompletedTask;
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            stores.Delete(provider, Key(stateName, grainId), grainState.ETag);
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return Task.CompletedTask;
        }

        private static string Key(string stateName, GrainId grainId) => $"{stateName}/{grainId}";
    }

    /// <summary>A reminder table shared by the silos, with the semantics of Orleans' in-memory one (ReminderTableGrain):
    /// a new ETag per upsert, removal only with the current ETag. Entries are copied in and out.</summary>
    private sealed class SharedReminderTable : IReminderTable
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<(GrainId Grain, string Name), ReminderEntry> _rows = [];

        public Task<ReminderTableData> ReadRows(GrainId grainId)
        {
            lock (_lock) return Task.FromResult(new ReminderTableData(_rows.Where(r => r.Key.Grain == grainId).Select(r => Copy(r.Value)).ToList()));
        }

        public Task<ReminderTableData> ReadRows(uint begin, uint end)
        {
            var range = RangeFactory.CreateRange(begin, end);
            lock (_lock) return Task.FromResult(new ReminderTableData(_rows.Where(r => range.InRange(r.Key.Grain)).Select(r => Copy(r.Value)).ToList()));
        }

        public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
        {
            lock (_lock) return Task.FromResult(_rows.TryGetValue((grainId, reminderName), out var row) ? Copy(row) : null);
        }

        public Task<string?> UpsertRow(ReminderEntry entry)
        {
            var row = Copy(entry);
            row.ETag = Guid.NewGuid().ToString("N");
            lock (_lock) _rows[(row.GrainId, row.ReminderName)] = row;
            return Task.FromResult<string?>(row.ETag);
        }

        public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
        {
            lock (_lock)
            {
                return Task.FromResult(_rows.TryGetValue((grainId, reminderName), out var row) && row.ETag == eTag && _rows.Remove((grainId, reminderName)));
            }
        }

        public Task TestOnlyClearTable()
        {
            lock (_lock) _rows.Clear();
            return Task.CompletedTask;
        }

        private static ReminderEntry Copy(ReminderEntry e) => new()
        {
            GrainId = e.GrainId,
            ReminderName = e.ReminderName,
            StartAt = e.StartAt,
            Period = e.Period,
            ETag = e.ETag,
        };
    }
}

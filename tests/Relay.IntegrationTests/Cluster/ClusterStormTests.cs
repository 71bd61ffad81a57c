using System.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// Issue #8 "Connection storms" on the 2-gateway process cluster: the storm of <see cref="ConnectionStorm"/> split
/// across the gateways, with every takeover and second tab on the other gateway than the first connection. Afterwards
/// both gateways' <c>/invocations</c>, a newcomer's snapshot and capabilities on each gateway equal the open registered
/// sockets, and a watcher on each gateway saw offline exactly once per peer that left.
/// </summary>
[Collection(ClusterGroup.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterStormTests(SharedCluster shared, ITestOutputHelper output) : IAsyncLifetime
{
    private const int PeerIds = 120;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(5);

    private readonly List<TestPeer> _peers = [];
    private readonly string _mesh = "m" + Guid.NewGuid().ToString("N")[..12];

    private Uri Gateway(int index) => new(shared.Cluster.Gateways[index % shared.Cluster.Gateways.Length], $"?mesh={_mesh}");

    private static Uri HttpBase(Uri gateway) => new($"http://{gateway.Authority}/");

    private async Task<TestPeer> ConnectAsync(int gateway, string id)
    {
        var peer = await TestPeer.ConnectAsync(Gateway(gateway), id);
        lock (_peers) _peers.Add(peer);
        // The shared cluster reaps after 30 s of silence; a loaded machine may take longer than that for the test.
        peer.StartKeepAlive(KeepAliveInterval);
        return peer;
    }

    [Fact]
    public async Task After_a_storm_split_across_gateways_every_view_equals_the_open_sockets()
    {
        var watchers = new List<TestPeer>();
        for (var g = 0; g < 2; g++)
        {
            var watcher = await ConnectAsync(g, TestPeer.NewId($"watcher{g}"));
            await watcher.RegisterAsync(timeout: Timeout);
            watchers.Add(watcher);
        }
        await watchers[0].WaitForAsync(f => Frame.IsPresenceOf(f, watchers[1].Id), Timeout);

        var ids = ConnectionStorm.PeerIds(PeerIds, "cstorm");
        var gatewayOf = ids.Select((p, i) => (p.Id, i)).ToDictionary(p => p.Id, p => p.i);
        var remaining = await new ConnectionStorm((id, k) => ConnectAsync(gatewayOf[id] + k, id), Timeout).RunAsync(ids);
        var online = remaining.Where(p => p.Value.Count > 0).Select(p => p.Key).ToHashSet();
        output.WriteLine($"{ids.Count} peer ids, {online.Count} online after the storm, {remaining.Values.Sum(c => c.Count)} open sockets");

        // Both gateways' roster (the mesh grain's) converges to the open sockets.
        var everyone = online.Concat(watchers.Select(w => w.Id)).Order(StringComparer.Ordinal).ToArray();
        using var http = ClusterHttp.Client();
        foreach (var gateway in shared.Cluster.Gateways)
        {
            var peers = await ClusterHttp.WaitForPeersAsync(http, HttpBase(gateway), _mesh, everyone, Timeout);
            ConnectionStorm.AssertSameIds(everyone, peers, $"/invocations of {gateway.Authority}");
        }

        // Each watcher's view converges to the same set (offline of a peer that left on the other gateway travels
        // over the link), and then its whole history must hold up.
        foreach (var watcher in watchers) await WaitForViewAsync(watcher, ids, online);

        // A newcomer on each gateway: its snapshot and capabilities say who is online.
        var newcomers = new List<TestPeer>();
        for (var g = 0; g < 2; g++)
        {
            var newcomer = await ConnectAsync(g, TestPeer.NewId($"newcomer{g}"));
            var snapshot = await newcomer.RegisterAsync(timeout: Timeout);
            ConnectionStorm.AssertSameIds(everyone.Concat(newcomers.Select(n => n.Id)), snapshot.Select(f => Frame.From(f)!), $"snapshot of newcomer on gateway {g + 1}");
            await newcomer.SendAsync(new { type = "capabilities" });
            var capabilities = (await newcomer.WaitForAsync(f => Frame.IsType(f, "capabilities_response"), Timeout)).GetProperty("data");
            Assert.Equal(everyone.Length + newcomers.Count + 1, capabilities.GetProperty("relay").GetProperty("peers").GetInt32());
            ConnectionStorm.AssertSameIds(online.Select(ConnectionStorm.AgentOf),
                capabilities.GetProperty("activeAgents").EnumerateArray().Select(a => a.GetString()!), $"activeAgents on gateway {g + 1}");
            newcomers.Add(newcomer);
        }

        // Each newcomer's presence went after everything its gateway had sent: the watchers' histories are complete.
        foreach (var watcher in watchers)
        {
            foreach (var newcomer in newcomers) await watcher.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id), Timeout);
            foreach (var (id, scenario) in ids) ConnectionStorm.AssertWatcherView(watcher, id, scenario, online.Contains(id));
        }
    }

    /// <summary>Bounded wait until the watcher's replay of presence and offline notices says exactly
    /// <paramref name="online"/> of <paramref name="ids"/> are online.</summary>
    private static async Task WaitForViewAsync(TestPeer watcher, List<(string Id, StormScenario Scenario)> ids, HashSet<string> online)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var wrong = ids.Where(p => IsOnline(watcher, p.Id) != online.Contains(p.Id)).Select(p => p.Id).ToList();
            if (wrong.Count == 0) return;
            if (watch.Elapsed > Timeout) Assert.Fail($"{watcher.Id}'s view of [{string.Join(", ", wrong)}] is wrong after {Timeout.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    private static bool IsOnline(TestPeer watcher, string id) =>
        watcher.All(f => Frame.IsType(f, "presence") && Frame.From(f) == id).Select(f => !Frame.IsOffline(f)).LastOrDefault();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        TestPeer[] peers;
        lock (_peers) peers = [.. _peers];
        await Task.WhenAll(peers.Select(p => p.DisposeAsync().AsTask()));
    }
}

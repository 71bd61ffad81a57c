using Microsoft.Extensions.DependencyInjection;
using Relay.Grains.Contracts;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue #8 "Connection storms" on the single process: hundreds of connects and disconnects at once, with takeovers
/// (the same peer id on a new connection) racing closes (<see cref="ConnectionStorm"/>). Afterwards every view of the
/// roster (a newcomer's snapshot, capabilities, <c>/invocations</c>, the peer grains) equals the set of open
/// registered sockets, and a watcher saw offline exactly once for each peer that left.
/// </summary>
public sealed class ConnectionStormTests(ITestOutputHelper output) : EndToEndTest
{
    private const int PeerIds = 180;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task After_a_storm_of_connects_closes_and_takeovers_the_roster_equals_the_open_sockets()
    {
        // No reaping during the storm (a loaded machine may take long): only closes make peers leave. Every test
        // client is 127.0.0.1, and the storm holds more sockets at once than one address may by default.
        await StartRelayAsync("Relay:StaleTimeout=00:05:00", "Relay:MaxConnectionsPerAddress=10000");
        var watcher = await JoinAsync(TestPeer.NewId("watcher"));
        var ids = ConnectionStorm.PeerIds(PeerIds, "storm");
        var remaining = await new ConnectionStorm((id, _) => ConnectAsync(id), Timeout).RunAsync(ids);
        var online = remaining.Where(p => p.Value.Count > 0).Select(p => p.Key).ToHashSet();
        var sockets = remaining.Values.Sum(c => c.Count);
        output.WriteLine($"{ids.Count} peer ids, {online.Count} online after the storm, {sockets} open sockets");

        // The relay holds exactly the open sockets (a connection leaves the registry after its departure was handled).
        await WaitForConnectionCountAsync(sockets + 1, timeout: Timeout);

        // A newcomer: its snapshot and capabilities say who is online.
        var newcomer = await ConnectAsync(TestPeer.NewId("newcomer"));
        var snapshot = await newcomer.RegisterAsync(timeout: Timeout);
        ConnectionStorm.AssertSameIds(online.Append(watcher.Id), snapshot.Select(f => Frame.From(f)!), "newcomer's snapshot");
        await newcomer.SendAsync(new { type = "capabilities" });
        var capabilities = (await newcomer.WaitForAsync(f => Frame.IsType(f, "capabilities_response"))).GetProperty("data");
        Assert.Equal(online.Count + 2, capabilities.GetProperty("relay").GetProperty("peers").GetInt32());
        ConnectionStorm.AssertSameIds(online.Select(ConnectionStorm.AgentOf),
            capabilities.GetProperty("activeAgents").EnumerateArray().Select(a => a.GetString()!), "activeAgents");
        ConnectionStorm.AssertSameIds(online.Append(watcher.Id).Append(newcomer.Id), PeersOf(await InvocationsAsync(Mesh)), "/invocations");

        // The peer grains hold exactly the open registered connections of each id.
        var grains = Relay.Services.GetRequiredService<IGrainFactory>();
        foreach (var (id, open) in remaining)
        {
            var connections = await grains.GetGrain<IPeerGrain>(GrainKeys.Peer(Mesh, id)).GetConnections();
            Assert.True(connections.Length == open.Count, $"peer grain {id}: {connections.Length} connection(s), {open.Count} open socket(s)");
        }

        // The newcomer's presence reached the watcher after every offline of the storm (each was sent before its
        // connection left the registry): the watcher's history is complete.
        await watcher.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id), Timeout);
        foreach (var (id, scenario) in ids) ConnectionStorm.AssertWatcherView(watcher, id, scenario, online.Contains(id));
    }
}

using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A connection storm (issue #8): every peer id runs its <see cref="StormScenario"/> at the same moment, so hundreds of
/// connects, registrations, closes, aborts and takeovers race each other. Shared by the single-process and the
/// cluster storm tests, with the checks both make afterwards.
/// </summary>
/// <param name="connect">Opens connection number k (0, 1) of a peer id (and keeps it for disposal).</param>
public sealed class ConnectionStorm(Func<string, int, Task<TestPeer>> connect, TimeSpan timeout)
{
    /// <summary>The peer ids: <paramref name="count"/> of them, the scenarios in turn; the scenario is in the id, which
    /// makes failure messages readable.</summary>
    public static List<(string Id, StormScenario Scenario)> PeerIds(int count, string prefix)
    {
        var scenarios = Enum.GetValues<StormScenario>();
        return [.. Enumerable.Range(0, count).Select(i => ($"{prefix}-{i}-{scenarios[i % scenarios.Length]}", scenarios[i % scenarios.Length]))];
    }

    /// <summary>The agent every storm peer lists (so capabilities' activeAgents can be checked too).</summary>
    public static string AgentOf(string id) => "agent-" + id;

    /// <summary>Starts every scenario at once; returns, per id, its sockets that are still open and registered.</summary>
    public async Task<Dictionary<string, List<TestPeer>>> RunAsync(List<(string Id, StormScenario Scenario)> ids)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var storm = ids.Select(p => Task.Run(async () =>
        {
            await go.Task;
            return await RunAsync(p.Id, p.Scenario);
        })).ToList();
        go.SetResult();
        var open = await Task.WhenAll(storm);
        return ids.Zip(open).ToDictionary(p => p.First.Id, p => p.Second);
    }

    private async Task<List<TestPeer>> RunAsync(string id, StormScenario scenario)
    {
        var data = new { agents = new[] { AgentOf(id) } };
        var first = await connect(id, 0);
        switch (scenario)
        {
            case StormScenario.Stays:
                await first.RegisterAsync(data, timeout);
                return [first];
            case StormScenario.Leaves:
                await first.RegisterAsync(data, timeout);
                await first.CloseAsync(timeout);
                return [];
            case StormScenario.Aborts:
                await first.RegisterAsync(data, timeout);
                first.Abort();
                return [];
            case StormScenario.TakeoverRacingClose or StormScenario.TakeoverRacingAbort:
            {
                await first.RegisterAsync(data, timeout);
                var takeover = Task.Run(async () =>
                {
                    var second = await connect(id, 1);
                    await second.RegisterAsync(data, timeout);
                    return second;
                });
                if (scenario == StormScenario.TakeoverRacingAbort) first.Abort();
                else await first.CloseAsync(timeout);
                return [await takeover];
            }
            case StormScenario.BothTabsClose or StormScenario.OneTabCloses:
            {
                var second = await connect(id, 1);
                await Task.WhenAll(first.RegisterAsync(data, timeout), second.RegisterAsync(data, timeout));
                if (scenario == StormScenario.OneTabCloses)
                {
                    await first.CloseAsync(timeout);
                    return [second];
                }
                await Task.WhenAll(first.CloseAsync(timeout), second.CloseAsync(timeout));
                return [];
            }
            case StormScenario.PresenceThenClose:
                await first.PresenceAsync(data);
                await first.CloseAsync(timeout);
                return [];
            default:
                await first.CloseAsync(timeout);
                return [];
        }
    }

    /// <summary>A watcher's presence/offline events for one id: never offline while already offline (a duplicate) or
    /// before it was online; online at the end exactly when the id still has a registered socket; and as many offline
    /// notices as the scenario implies.</summary>
    public static void AssertWatcherView(TestPeer watcher, string id, StormScenario scenario, bool online)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        var events = watcher.All(f => Frame.IsType(f, "presence") && Frame.From(f) == id).Select(f => !Frame.IsOffline(f)).ToList();
        var state = false;
        var offlines = 0;
        foreach (var on in events)
        {
            if (!on)
            {
                Assert.True(state, $"{watcher.Id} about {id}: offline while not online; events {Describe(events)}");
                offlines++;
            }
            state = on;
        }
        Assert.True(state == online, $"{watcher.Id} thinks {id} {(state ? "online" : "offline")}; events {Describe(events)}");
        var expected = scenario switch
        {
            StormScenario.Stays or StormScenario.OneTabCloses or StormScenario.NeverRegisters => 0,
            StormScenario.Leaves or StormScenario.Aborts or StormScenario.BothTabsClose => 1,
            StormScenario.PresenceThenClose => events.Count > 0 ? 1 : 0,
            _ => -1, // a takeover: offline once if the close was handled before the takeover registered, else never
        };
        if (expected >= 0) Assert.True(offlines == expected, $"{watcher.Id} about {id}: {offlines} offline notice(s); events {Describe(events)}");
        else Assert.True(offlines <= 1, $"{watcher.Id} about {id}: {offlines} offline notices; events {Describe(events)}");
    }

    /// <summary>Asserts two sets of ids are equal, without duplicates in <paramref name="actual"/>.</summary>
    public static void AssertSameIds(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var want = expected.ToHashSet();
        var got = actual.ToList();
        var missing = want.Except(got).ToList();
        var extra = got.Except(want).ToList();
        var duplicates = got.GroupBy(x => x).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && duplicates.Count == 0,
            $"{what}: missing [{string.Join(", ", missing)}], extra [{string.Join(", ", extra)}], duplicated [{string.Join(", ", duplicates)}]");
    }

    private static string Describe(List<bool> events) => string.Join(" ", events.Select(on => on ? "presence" : "offline"));
}

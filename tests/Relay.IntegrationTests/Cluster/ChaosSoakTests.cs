using System.Globalization;
using Relay.IntegrationTests.Infrastructure;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// The chaos soak (<c>bench/chaos.sh</c>), two minutes of it: 200 peers in meshes of 10 on a 2-silo, 2-gateway process
/// cluster with redis, real-client traffic, a node killed with SIGKILL and restarted every 20-30 s, redis restarted
/// once. Its checker must pass: nothing lost unreported, duplicated or reordered; every departed peer offline once per
/// survivor, 30-40 s after its last frame (the real stale timeout); no false offline, no ghost; every roster equal to
/// the open sockets; RSS and managed heap flat. The seed is random and printed, so that a failing run can be repeated.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class ChaosSoakTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(12);

    [Fact]
    public async Task Two_minutes_of_node_kills_and_a_redis_restart_lose_nothing_unreported()
    {
        var seed = Random.Shared.Next(1, 1_000_000).ToString(CultureInfo.InvariantCulture);
        var result = await ChildProcess.RunAsync("bash",
        [
            Path.Combine(RepositoryFiles.Root, "bench", "chaos.sh"), "--minutes", "2", "--peers", "200", "--seed", seed,
            "--no-build", "--configuration", ClusterScript.Configuration,
            "--", "--kill-every-min", "20", "--kill-every-max", "30", "--down-max", "10",
            // Two minutes leave one minute between the baseline and the end, with a kill in it: a gateway's 10 MiB
            // heap then moves by a few MiB of garbage no gen2 collection has reached yet (+27 % at constant sockets in
            // one CI run), and RSS by what the runtime keeps after a silo loss (+12 % over a flat heap in another).
            // Here the check catches gross leaks; the 10-minute soak (bench/chaos.sh) judges at 10 %.
            "--max-rss-growth", "0.25", "--max-heap-growth", "0.5",
        ], RunTimeout, RepositoryFiles.Root);
        output.WriteLine(result.StandardOutput);
        output.WriteLine(result.StandardError);

        Assert.True(result.ExitCode == 0, $"chaos soak (seed {seed}) failed: exit {result.ExitCode}\n{result.StandardOutput}");
        var verdict = result.OutputLines.Single(l => l.StartsWith("chaos: ", StringComparison.Ordinal));
        Assert.StartsWith("chaos: PASSED", verdict, StringComparison.Ordinal);
        Assert.Contains("redis_restarted=True", verdict, StringComparison.Ordinal);
        Assert.DoesNotContain("kills=0", verdict, StringComparison.Ordinal);
        Assert.DoesNotContain(" due=0 ", verdict, StringComparison.Ordinal);
    }
}

using System.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Cluster;

/// <summary>Multi-process tests run one at a time, after the parallel ones (they share 2 cores with them).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterProcesses
{
    public const string Name = "Cluster";
}

/// <summary>
/// <c>scripts/cluster.sh</c> end to end, as real processes on 127.0.0.1 (free ports, state in a temporary directory):
/// the shipped topology it starts without topology flags (a private redis and three co-hosted nodes, as
/// docker-compose.yml), and split roles (two silos and two gateway-only nodes, as the tests and benchmarks ask for
/// with <c>--silos 2 --gateways 2</c>); then <c>down</c>.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterProcesses.Name)]
public sealed class ClusterScriptTests(ITestOutputHelper output)
{
    private static readonly TimeSpan UpTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan DownTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Up_starts_two_silos_and_two_gateways_that_serve_one_cluster_and_down_stops_them()
    {
        var taken = new HashSet<int>();
        var basePort = ClusterScript.FreePortBlock(4, taken); // 2 gateways, then 2 silos' HTTP ports
        var redisPort = ClusterScript.FreePortBlock(1, taken);
        var siloPort = ClusterScript.FreePortBlock(2, taken);
        var gatewayPort = ClusterScript.FreePortBlock(2, taken);
        var clusterDir = Directory.CreateTempSubdirectory("relay-cluster-").FullName;
        var environment = new Dictionary<string, string> { ["CLUSTER_DIR"] = clusterDir };

        try
        {
            var up = await ClusterScript.RunAsync(UpTimeout, environment,
                "up", "--silos", "2", "--gateways", "2", "--base-port", $"{basePort}", "--redis-port", $"{redisPort}",
                "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}",
                "--configuration", ClusterScript.Configuration, "--no-build", "--timeout", "180");
            output.WriteLine(up.StandardError);
            Assert.True(up.ExitCode == 0, up + "\n" + ClusterScript.Logs(clusterDir));

            // The last line: the gateways' WebSocket URLs, comma-separated, gateway k on base port + k - 1.
            var urls = up.OutputLines[^1].Split(',');
            Assert.Equal([$"ws://127.0.0.1:{basePort}/ws", $"ws://127.0.0.1:{basePort + 1}/ws"], urls);
            var gateways = urls.Select(u => new Uri(u.Replace("ws://", "http://", StringComparison.Ordinal).Replace("/ws", "/", StringComparison.Ordinal))).ToArray();

            var pids = ReadPids(clusterDir);
            Assert.Equal(["redis", "silo1", "silo2", "gateway1", "gateway2"], pids.Keys);
            Assert.All(pids.Values, pid => Assert.True(IsRunning(pid), $"pid {pid} is not running"));

            using var http = ClusterHttp.Client();
            await AssertHealthyAsync(http, gateways);
            // Silos answer /ping and /healthz but hold no WebSockets.
            for (var k = 0; k < 2; k++)
            {
                var silo = new Uri($"http://127.0.0.1:{basePort + 2 + k}/");
                Assert.Equal(200, (await ClusterHttp.GetAsync(http, silo, "healthz")).Status);
                Assert.Equal(404, (await ClusterHttp.GetAsync(http, silo, "ws")).Status);
            }

            // One peer on each gateway: both gateways' /invocations see both (the roster lives in the cluster).
            var mesh = ClusterHttp.NewMesh();
            var alice = await ClusterHttp.ConnectPeerAsync(new Uri(urls[0] + "?mesh=" + mesh), "alice");
            var bob = await ClusterHttp.ConnectPeerAsync(new Uri(urls[1] + "?mesh=" + mesh), "bob");
            try
            {
                foreach (var gateway in gateways)
                {
                    var peers = await ClusterHttp.WaitForPeersAsync(http, gateway, mesh, ["alice", "bob"], TimeSpan.FromSeconds(20));
                    Assert.Equal(["alice", "bob"], peers);
                }

                // Peer grain state is in Redis (key {ServiceId}/state/{grainId}/{grainType}), so it outlives its silo.
                var keys = await RedisKeysAsync(redisPort, "relay/state/*");
                Assert.Contains(keys, key => key.Contains($"{mesh}/alice", StringComparison.Ordinal));
                Assert.Contains(keys, key => key.Contains($"{mesh}/bob", StringComparison.Ordinal));
            }
            finally
            {
                await ClusterHttp.CloseAsync(alice);
                await ClusterHttp.CloseAsync(bob);
            }

            // A peer that left keeps no record: cleared state is deleted, so ids that come and go do not grow Redis.
            await Eventually.SucceedsAsync(async () =>
            {
                var left = (await RedisKeysAsync(redisPort, "relay/state/*")).Where(key => key.Contains(mesh, StringComparison.Ordinal)).ToList();
                Assert.True(left.Count == 0, "keys left by the closed peers: " + string.Join(", ", left));
            }, TimeSpan.FromSeconds(20));

            var status = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.True(status.ExitCode == 0, status.ToString());
            Assert.Contains("5 of 5 running", status.StandardOutput, StringComparison.Ordinal);

            // A silo crashes (`kill`: SIGKILL): with the fast failure detection the other takes over within seconds,
            // and both gateways keep answering through it.
            var kill = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "kill", "silo1");
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var crashed = Stopwatch.StartNew();
            foreach (var gateway in gateways)
            {
                Assert.True(await AnswersInvocationsAsync(http, gateway, TimeSpan.FromSeconds(45)),
                    $"{gateway} did not answer /invocations within 45 s of the silo crash\n{ClusterScript.Logs(clusterDir)}");
            }
            output.WriteLine($"gateways answered {crashed.Elapsed.TotalSeconds:F1} s after the silo crash");
            var degraded = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.NotEqual(0, degraded.ExitCode);
            Assert.Contains("silo1 pid", degraded.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("4 of 5 running", degraded.StandardOutput, StringComparison.Ordinal);

            // `restart` starts it again as `up` did and waits until it is healthy; the PID file names it once.
            var restart = await ClusterScript.RunAsync(UpTimeout, environment, "restart", "silo1");
            Assert.True(restart.ExitCode == 0, restart + "\n" + ClusterScript.Logs(clusterDir));
            var restarted = ReadPids(clusterDir);
            Assert.NotEqual(pids["silo1"], restarted["silo1"]);
            Assert.True(IsRunning(restarted["silo1"]), "the restarted silo1 is not running");
            Assert.Equal(200, (await ClusterHttp.GetAsync(http, new Uri($"http://127.0.0.1:{basePort + 2}/"), "healthz")).Status);
            var healed = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.Contains("5 of 5 running", healed.StandardOutput, StringComparison.Ordinal);
            pids = restarted;

            await DownAndAssertStoppedAsync(environment, clusterDir, pids);

            var after = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.Contains("down", after.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            await CleanUpAsync(environment, clusterDir);
        }
    }

    [Fact]
    public async Task Up_without_topology_flags_starts_three_co_hosted_nodes_that_serve_one_cluster_and_down_stops_them()
    {
        var taken = new HashSet<int>();
        var basePort = ClusterScript.FreePortBlock(3, taken); // node k's HTTP and WebSocket port: base + k - 1
        var redisPort = ClusterScript.FreePortBlock(1, taken);
        var siloPort = ClusterScript.FreePortBlock(3, taken);
        var gatewayPort = ClusterScript.FreePortBlock(3, taken);
        var clusterDir = Directory.CreateTempSubdirectory("relay-cluster-").FullName;
        var environment = new Dictionary<string, string> { ["CLUSTER_DIR"] = clusterDir };

        try
        {
            // Ports only: no --silos, --gateways or --combined.
            var up = await ClusterScript.RunAsync(UpTimeout, environment,
                "up", "--base-port", $"{basePort}", "--redis-port", $"{redisPort}",
                "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}",
                "--configuration", ClusterScript.Configuration, "--no-build", "--timeout", "180");
            output.WriteLine(up.StandardError);
            Assert.True(up.ExitCode == 0, up + "\n" + ClusterScript.Logs(clusterDir));

            var urls = up.OutputLines[^1].Split(',');
            Assert.Equal([$"ws://127.0.0.1:{basePort}/ws", $"ws://127.0.0.1:{basePort + 1}/ws", $"ws://127.0.0.1:{basePort + 2}/ws"], urls);
            var nodes = urls.Select(u => new Uri(u.Replace("ws://", "http://", StringComparison.Ordinal).Replace("/ws", "/", StringComparison.Ordinal))).ToArray();

            var pids = ReadPids(clusterDir);
            Assert.Equal(["redis", "node1", "node2", "node3"], pids.Keys);
            Assert.All(pids.Values, pid => Assert.True(IsRunning(pid), $"pid {pid} is not running"));
            // Each node is one Relay.Silo process in the combined role, as the compose services are.
            foreach (var node in new[] { "node1", "node2", "node3" })
            {
                var env = File.ReadAllLines(Path.Combine(clusterDir, "env", node));
                Assert.Contains("Cluster__Role=Combined", env);
            }

            using var http = ClusterHttp.Client();
            await AssertHealthyAsync(http, nodes);

            // One peer on the first node and one on the last: every node's /invocations sees both.
            var mesh = ClusterHttp.NewMesh();
            var alice = await ClusterHttp.ConnectPeerAsync(new Uri(urls[0] + "?mesh=" + mesh), "alice");
            var bob = await ClusterHttp.ConnectPeerAsync(new Uri(urls[2] + "?mesh=" + mesh), "bob");
            try
            {
                foreach (var node in nodes)
                {
                    var peers = await ClusterHttp.WaitForPeersAsync(http, node, mesh, ["alice", "bob"], TimeSpan.FromSeconds(20));
                    Assert.Equal(["alice", "bob"], peers);
                }
            }
            finally
            {
                await ClusterHttp.CloseAsync(alice);
                await ClusterHttp.CloseAsync(bob);
            }

            var status = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.True(status.ExitCode == 0, status.ToString());
            Assert.Contains("4 of 4 running", status.StandardOutput, StringComparison.Ordinal);

            // A node crashes (`kill`: SIGKILL): the two others keep answering, with grains re-activated among them.
            var kill = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "kill", "node2");
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var crashed = Stopwatch.StartNew();
            foreach (var node in new[] { nodes[0], nodes[2] })
            {
                Assert.True(await AnswersInvocationsAsync(http, node, TimeSpan.FromSeconds(45)),
                    $"{node} did not answer /invocations within 45 s of node2's crash\n{ClusterScript.Logs(clusterDir)}");
            }
            output.WriteLine($"the surviving nodes answered {crashed.Elapsed.TotalSeconds:F1} s after node2's crash");
            var degraded = await ClusterScript.RunAsync(TimeSpan.FromSeconds(30), environment, "status");
            Assert.NotEqual(0, degraded.ExitCode);
            Assert.Contains("3 of 4 running", degraded.StandardOutput, StringComparison.Ordinal);

            var restart = await ClusterScript.RunAsync(UpTimeout, environment, "restart", "node2");
            Assert.True(restart.ExitCode == 0, restart + "\n" + ClusterScript.Logs(clusterDir));
            var restarted = ReadPids(clusterDir);
            Assert.NotEqual(pids["node2"], restarted["node2"]);
            Assert.Equal(200, (await ClusterHttp.GetAsync(http, nodes[1], "healthz")).Status);
            pids = restarted;

            await DownAndAssertStoppedAsync(environment, clusterDir, pids);
        }
        finally
        {
            await CleanUpAsync(environment, clusterDir);
        }
    }

    [Fact]
    public async Task Up_refuses_ports_in_use_and_starts_nothing()
    {
        var taken = new HashSet<int>();
        var basePort = ClusterScript.FreePortBlock(2, taken);
        var clusterDir = Directory.CreateTempSubdirectory("relay-cluster-").FullName;
        var environment = new Dictionary<string, string> { ["CLUSTER_DIR"] = clusterDir };
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, basePort);
        blocker.Start();
        try
        {
            var up = await ClusterScript.RunAsync(TimeSpan.FromSeconds(60), environment,
                "up", "--silos", "1", "--gateways", "1", "--base-port", $"{basePort}", "--redis-port", $"{ClusterScript.FreePortBlock(1, taken)}",
                "--silo-port", $"{ClusterScript.FreePortBlock(1, taken)}", "--gateway-port", $"{ClusterScript.FreePortBlock(1, taken)}",
                "--configuration", ClusterScript.Configuration, "--no-build", "--timeout", "30");
            Assert.NotEqual(0, up.ExitCode);
            Assert.Contains($"port {basePort}", up.StandardError, StringComparison.Ordinal);
            Assert.Empty(ReadPids(clusterDir));
        }
        finally
        {
            await ClusterScript.RunAsync(DownTimeout, environment, "down");
            Directory.Delete(clusterDir, recursive: true);
        }
    }

    /// <summary>Every node answers <c>/ping</c> (Healthy) and <c>/healthz</c> with 200.</summary>
    private static async Task AssertHealthyAsync(HttpClient http, IEnumerable<Uri> nodes)
    {
        foreach (var node in nodes)
        {
            var ping = await ClusterHttp.GetAsync(http, node, "ping");
            Assert.Equal(200, ping.Status);
            Assert.Contains("\"status\":\"Healthy\"", ping.Body, StringComparison.Ordinal);
            Assert.Equal(200, (await ClusterHttp.GetAsync(http, node, "healthz")).Status);
        }
    }

    /// <summary><c>down</c> succeeds, every recorded process is gone, and so is the PID file.</summary>
    private async Task DownAndAssertStoppedAsync(Dictionary<string, string> environment, string clusterDir, Dictionary<string, int> pids)
    {
        var down = await ClusterScript.RunAsync(DownTimeout, environment, "down");
        output.WriteLine(down.StandardError);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.All(pids, entry => Assert.False(IsRunning(entry.Value), $"{entry.Key} (pid {entry.Value}) still runs after down"));
        Assert.False(File.Exists(Path.Combine(clusterDir, "pids")), "down leaves no PID file");
    }

    /// <summary>Whatever a test did, stops what <c>up</c> started (a no-op when down already ran) and removes its
    /// state directory.</summary>
    private static async Task CleanUpAsync(Dictionary<string, string> environment, string clusterDir)
    {
        await ClusterScript.RunAsync(DownTimeout, environment, "down");
        try
        {
            Directory.Delete(clusterDir, recursive: true);
        }
        catch (IOException)
        {
            // a log still open by a dying process; the temp dir is cleaned up eventually
        }
    }

    /// <summary>True once <c>POST /invocations</c> answers 200 on a fresh mesh (a new mesh grain activation, placed on a
    /// live silo), polling until the timeout.</summary>
    private static async Task<bool> AnswersInvocationsAsync(HttpClient http, Uri gateway, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await http.PostAsync(new Uri(gateway, $"invocations?mesh={ClusterHttp.NewMesh()}"), null, attempt.Token);
                if (response.IsSuccessStatusCode) return true;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // the gateway's cluster client is still finding its way to the surviving silo
            }
            await Task.Delay(200);
        }
        return false;
    }

    private static async Task<string[]> RedisKeysAsync(int port, string pattern)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-p", $"{port}", "--scan", "--pattern", pattern }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await process.WaitForExitAsync(timeout.Token);
        return (await text).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>name → pid, in start order, from the state dir's PID file.</summary>
    private static Dictionary<string, int> ReadPids(string clusterDir)
    {
        var file = Path.Combine(clusterDir, "pids");
        var pids = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!File.Exists(file)) return pids;
        foreach (var line in File.ReadAllLines(file))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2) pids[parts[0]] = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return pids;
    }

    private static bool IsRunning(int pid)
    {
        // A zombie (exited, not yet reaped by its parent) has state Z in /proc/<pid>/stat: it runs no more.
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        try
        {
            var text = File.ReadAllText(stat);
            var state = text[(text.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state != "Z" && state != "X";
        }
        catch (IOException)
        {
            return false;
        }
    }
}

using System.Diagnostics;
using System.Globalization;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A real multi-process cluster on loopback, started with <c>scripts/cluster.sh</c> exactly as an operator would
/// (redis, then silos with Cluster:Role=Silo and gateway-only Relay.Gateway nodes, or co-hosted nodes), on free ports
/// and in its own state directory, with the dlls the test run just built. Nodes can be killed with SIGKILL by name.
/// Every start passes its topology flags: the script's default (three co-hosted nodes) is for operators.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly string _state;
    private readonly Dictionary<string, string> _environment;

    private ProcessCluster(string state, Dictionary<string, string> environment, Uri[] gateways)
    {
        _state = state;
        _environment = environment;
        Gateways = gateways;
    }

    /// <summary>The gateways' WebSocket URLs, in order (gateway1 first).</summary>
    public Uri[] Gateways { get; }

    /// <summary>Starts a cluster. <paramref name="settings"/> are environment variables for every node, such as
    /// <c>Relay__StaleTimeout=00:00:03</c>.</summary>
    public static Task<ProcessCluster> StartAsync(int silos, int gateways, params string[] settings) =>
        StartAsync(silos, gateways, combined: false, settings);

    /// <summary>Starts <paramref name="nodes"/> co-hosted nodes (<c>cluster.sh up --gateways 0 --combined</c>): each is
    /// a silo and a gateway in one process, named node1, node2, ...; <see cref="Gateways"/> lists their WebSocket
    /// URLs.</summary>
    public static Task<ProcessCluster> StartCoHostedAsync(int nodes, params string[] settings) =>
        StartAsync(nodes, 0, combined: true, settings);

    private static async Task<ProcessCluster> StartAsync(int silos, int gateways, bool combined, string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("relay-cluster-").FullName;
        var environment = settings.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        // Every test client is 127.0.0.1: unless a test says otherwise, its connects are not rate limited per address.
        foreach (var setting in RelayServer.UnlimitedConnectRate)
        {
            var (key, value) = (setting.Split('=', 2)[0].Replace(":", "__", StringComparison.Ordinal), setting.Split('=', 2)[1]);
            environment.TryAdd(key, value);
        }
        environment["CLUSTER_DIR"] = state;
        Console.WriteLine($"process cluster state: {state}");
        var taken = new HashSet<int>();
        string[] up =
        [
            "up", "--silos", $"{silos}", "--gateways", $"{gateways}",
            "--base-port", $"{ClusterScript.FreePortBlock(gateways + silos, taken)}",
            "--redis-port", $"{ClusterScript.FreePortBlock(1, taken)}",
            "--silo-port", $"{ClusterScript.FreePortBlock(silos, taken)}",
            "--gateway-port", $"{ClusterScript.FreePortBlock(silos, taken)}",
            "--configuration", ClusterScript.Configuration, "--no-build", "--timeout", "150",
            .. combined ? ["--combined"] : Array.Empty<string>(),
        ];
        var result = await ClusterScript.RunAsync(StartTimeout, environment, up);
        if (result.ExitCode != 0) throw new InvalidOperationException($"cluster.sh up failed: {result}");
        var urls = result.OutputLines[^1].Split(',').Select(u => new Uri(u)).ToArray();
        return new ProcessCluster(state, environment, urls);
    }

    /// <summary>Kills one node (e.g. "gateway1", "silo2", "node3") with SIGKILL: no goodbye to anybody.</summary>
    public void Kill(string node)
    {
        using var process = Process.GetProcessById(PidOf(node));
        process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    /// <summary>Sends one node SIGTERM, as an orchestrator stopping it does (a gateway drains its sockets), and
    /// returns at once.</summary>
    public void Terminate(string node)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", PidOf(node).ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
        })!;
        kill.WaitForExit(10_000);
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {node} failed ({kill.ExitCode})");
    }

    /// <summary>Waits until some node's log (under the state directory's <c>logs/</c>) has a line containing
    /// <paramref name="text"/>: what a node did that no client can see.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!Directory.EnumerateFiles(Path.Combine(_state, "logs"), "*.log").Any(log => LogContains(log, text)))
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"no node logged \"{text}\" within {timeout.TotalSeconds} s");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }

    private static bool LogContains(string log, string text)
    {
        // Shared: the node is still writing it.
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        return reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
    }

    private int PidOf(string node)
    {
        var line = File.ReadAllLines(Path.Combine(_state, "pids")).Select(l => l.Split(' ')).Single(p => p[0] == node);
        return int.Parse(line[1], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await ClusterScript.RunAsync(TimeSpan.FromMinutes(1), _environment, "down");
        // RELAY_KEEP_CLUSTER_LOGS=1 keeps the nodes' logs (under the temp dir named in the test output) for diagnosis.
        if (Environment.GetEnvironmentVariable("RELAY_KEEP_CLUSTER_LOGS") == "1") return;
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
            // a log still open by a dying process: the temp dir is cleaned up by the OS eventually
        }
    }
}

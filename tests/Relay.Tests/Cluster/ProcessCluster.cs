using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Relay.Tests.Cluster;

/// <summary>
/// A real multi-process cluster on loopback, started with <c>scripts/cluster.sh</c> exactly as an operator would
/// (redis, silos with Cluster:Role=Silo, gateway-only Relay.Gateway nodes), on free ports and in its own state
/// directory, with the dlls the test run just built. Nodes can be killed with SIGKILL by name.
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

    public string Logs => Path.Combine(_state, "logs");

    /// <summary>Starts a cluster. <paramref name="settings"/> are environment variables for every node, such as
    /// <c>Relay__StaleTimeout=00:00:03</c>.</summary>
    public static async Task<ProcessCluster> StartAsync(int silos, int gateways, params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("relay-cluster-").FullName;
        var environment = settings.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Console.WriteLine($"process cluster state: {state}");
        environment["CLUSTER_DIR"] = state;
        List<string> arguments =
        [
            "up", "--silos", $"{silos}", "--gateways", $"{gateways}",
            "--base-port", $"{FreePortRange(gateways + silos)}", "--redis-port", $"{FreePortRange(1)}",
            "--silo-port", $"{FreePortRange(silos)}", "--gateway-port", $"{FreePortRange(silos)}",
            "--configuration", BuildConfiguration, "--no-build", "--timeout", "150",
        ];
        var (exit, output, errors) = await RunScriptAsync(arguments, environment, StartTimeout);
        if (exit != 0)
        {
            throw new InvalidOperationException($"cluster.sh up failed ({exit}):\n{errors}\n{output}");
        }
        var urls = output.Trim().Split('\n')[^1].Split(',').Select(u => new Uri(u)).ToArray();
        return new ProcessCluster(state, environment, urls);
    }

    /// <summary>Kills one node (e.g. "gateway1", "silo2") with SIGKILL: no goodbye to anybody.</summary>
    public void Kill(string node)
    {
        var line = File.ReadAllLines(Path.Combine(_state, "pids")).Select(l => l.Split(' ')).Single(p => p[0] == node);
        using var process = Process.GetProcessById(int.Parse(line[1], System.Globalization.CultureInfo.InvariantCulture));
        process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    public string Log(string node) => File.ReadAllText(Path.Combine(Logs, node + ".log"));

    public async ValueTask DisposeAsync()
    {
        await RunScriptAsync(["down"], _environment, TimeSpan.FromMinutes(1));
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

    /// <summary>Debug or Release: whatever this test assembly was built with (the nodes use the same dlls).</summary>
    private static string BuildConfiguration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            ? "Release"
            : "Debug";

    private static string Repository
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Relay.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    private static async Task<(int Exit, string Output, string Errors)> RunScriptAsync(
        IEnumerable<string> arguments, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(Repository, "scripts", "cluster.sh"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cluster.sh {string.Join(' ', arguments)} took longer than {timeout}:\n{await errors}");
        }
        return (process.ExitCode, await output, await errors);
    }

    // A run of consecutive free ports on 127.0.0.1, chosen at random in a range away from the usual ones.
    private static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var first = Random.Shared.Next(20_000, 60_000 - count);
            if (Enumerable.Range(first, count).All(IsFree)) return first;
        }
        throw new InvalidOperationException("no free port range");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

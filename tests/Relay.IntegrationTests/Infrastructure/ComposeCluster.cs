using System.Diagnostics;
using System.Globalization;
using Relay.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The repository's docker-compose.yml (redis and three co-hosted nodes), as it is, started as a user starts it
/// (<c>docker compose up --build</c>) under a compose project of its own (<c>-p</c> overrides the file's
/// <c>name:</c>) with the nodes published on free loopback ports (<c>RELAY_NODE1_PORT</c> to <c>RELAY_NODE3_PORT</c>). <c>scripts/docker-standins.sh</c> runs
/// first, once per test run: it provides Compose v2 and the base images where the engine has none and no
/// registry can be reached (and does nothing where they exist). Services are crashed with SIGKILL of their main
/// process, so Docker's restart policy applies (<c>docker kill</c> would count as a stop).
/// </summary>
public sealed class ComposeCluster : IAsyncDisposable
{
    /// <summary>The relay nodes, in order: node k is published on <see cref="NodePorts"/>[k - 1].</summary>
    public static readonly string[] Nodes = ["node1", "node2", "node3"];

    public static readonly string[] Services = ["redis", .. Nodes];

    private const string ProjectPrefix = "relay-test-";
    private const string ProjectLabel = "com.docker.compose.project";
    private static readonly TimeSpan PrepareTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly Lazy<Task<ChildProcess.Result>> Prepared = new(PrepareAsync);
    private static int _projects;

    private readonly ITestOutputHelper _output;
    private readonly Dictionary<string, string> _environment;
    private readonly int[] _ports;
    private Dictionary<string, string> _containers = [];
    private bool _down;

    private ComposeCluster(ITestOutputHelper output, string project, int[] ports)
    {
        _output = output;
        Project = project;
        _ports = ports;
        _environment = new(StringComparer.Ordinal);
        for (var k = 1; k <= ports.Length; k++)
        {
            _environment[$"RELAY_NODE{k}_PORT"] = ports[k - 1].ToString(CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The compose project name: <c>relay-test-&lt;test process id&gt;-&lt;n&gt;</c>.</summary>
    public string Project { get; }

    /// <summary>The host ports node 1, 2 and 3 are published on (on 127.0.0.1, by the file).</summary>
    public IReadOnlyList<int> NodePorts => _ports;

    /// <summary>The WebSocket URL of node 1, 2 or 3 on its published loopback port, with a query.</summary>
    public Uri Node(int node, string query) => new($"ws://127.0.0.1:{_ports[node - 1]}/ws{query}");

    /// <summary>Builds and starts the cluster and waits until every service's health check passes.</summary>
    public static async Task<ComposeCluster> UpAsync(ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Assert.True(DockerEngine.Unavailable is null, $"{DockerEngine.Unavailable}: this test needs a Docker engine (scripts/test.sh installs docker.io and starts dockerd)");
        var prepared = await Prepared.Value;
        output.WriteLine(prepared.StandardError.TrimEnd());
        Assert.True(prepared.ExitCode == 0, $"scripts/docker-standins.sh failed:\n{prepared}");

        var taken = new HashSet<int>();
        var ports = Nodes.Select(_ => ClusterScript.FreePortBlock(1, taken)).ToArray();
        var project = $"{ProjectPrefix}{Environment.ProcessId}-{Interlocked.Increment(ref _projects)}";
        var cluster = new ComposeCluster(output, project, ports);
        try
        {
            var clock = Stopwatch.StartNew();
            var up = await cluster.ComposeAsync(UpTimeout, "up", "--build", "--detach");
            Assert.True(up.ExitCode == 0, up.ToString());
            var upTook = clock.Elapsed;
            var ps = await cluster.ComposeAsync(CommandTimeout, "ps", "--all", "--format", "{{.Service}} {{.ID}}");
            cluster._containers = ps.OutputLines.Select(l => l.Split(' ')).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            Assert.Equal(Services.Order(StringComparer.Ordinal), cluster._containers.Keys.Order(StringComparer.Ordinal));
            await cluster.WaitAsync(Services, s => s.Health == "healthy", "healthy", HealthTimeout);
            output.WriteLine($"{project}: up --build --detach took {upTook.TotalSeconds:F1} s; all {Services.Length} services " +
                $"healthy {clock.Elapsed.TotalSeconds:F1} s after the start (nodes on 127.0.0.1:{string.Join(", :", ports)})");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The host address and port a service's container port is published on (<c>docker compose port</c>).</summary>
    public async Task<string> PublishedAsync(string service, int containerPort)
    {
        var port = await ComposeAsync(CommandTimeout, "port", service, containerPort.ToString(CultureInfo.InvariantCulture));
        Assert.True(port.ExitCode == 0, port.ToString());
        return port.StandardOutput.Trim();
    }

    /// <summary>A service's container as Docker reports it.</summary>
    public sealed record State(string Status, string Health, int RestartCount, int Pid);

    public async Task<State> StateAsync(string service) => (await StatesAsync([service]))[service];

    /// <summary>A crash <see cref="KillAsync"/> caused: the service's state just before, and when (a
    /// <see cref="Stopwatch"/> timestamp).</summary>
    public sealed record Crash(State Before, long At);

    /// <summary>Crashes <paramref name="service"/>: SIGKILL of its main process (pid 1 of its container) from the
    /// host.</summary>
    public async Task<Crash> KillAsync(string service)
    {
        var before = await StateAsync(service);
        Assert.True(before is { Status: "running", Pid: > 0 }, $"{service} is not running: {before}");
        using var process = Process.GetProcessById(before.Pid);
        process.Kill();
        return new Crash(before, Stopwatch.GetTimestamp());
    }

    /// <summary>Waits (up to <paramref name="timeout"/>) until Docker restarted <paramref name="service"/> after
    /// <paramref name="crash"/> and its health check passes again; returns how long after the crash that was.</summary>
    public async Task<TimeSpan> WaitForRestartAsync(string service, Crash crash, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(crash);
        var before = crash.Before;
        await WaitAsync([service], s => s.RestartCount > before.RestartCount && s.Pid != before.Pid && s.Health == "healthy",
            "restarted and healthy", timeout);
        return Stopwatch.GetElapsedTime(crash.At);
    }

    /// <summary><c>docker compose down</c>, then checks that nothing of the project is left: no container, no
    /// network, no volume, nothing listening on the published ports.</summary>
    public async Task DownAsync()
    {
        var volumes = await VolumesAsync();
        var down = await ComposeAsync(CommandTimeout, "down", "--volumes", "--remove-orphans");
        _down = true;
        Assert.True(down.ExitCode == 0, down.ToString());
        var containers = await DockerAsync("ps", "--all", "--quiet", "--filter", $"label={ProjectLabel}={Project}");
        Assert.Empty(containers.OutputLines);
        var networks = await DockerAsync("network", "ls", "--quiet", "--filter", $"label={ProjectLabel}={Project}");
        Assert.Empty(networks.OutputLines);
        foreach (var volume in volumes)
        {
            Assert.NotEqual(0, (await DockerAsync("volume", "inspect", volume)).ExitCode);
        }
        Assert.All(_ports, port => Assert.True(ClusterScript.IsFree(port), $"127.0.0.1:{port} is still listening"));
    }

    /// <summary>Takes the cluster down if the test did not (it failed), with the services' last log lines.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_down) return;
        _down = true;
        try
        {
            var logs = await ComposeAsync(CommandTimeout, "logs", "--no-color", "--timestamps", "--tail", "60");
            _output.WriteLine(logs.StandardOutput);
        }
        finally
        {
            await ComposeAsync(CommandTimeout, "down", "--volumes", "--remove-orphans");
        }
    }

    private async Task WaitAsync(string[] services, Func<State, bool> condition, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var states = await StatesAsync(services);
            if (states.Values.All(condition)) return;
            if (clock.Elapsed > timeout)
            {
                var detail = string.Join(", ", states.Select(s => $"{s.Key}: {s.Value}"));
                throw new TimeoutException($"{Project}: not all of {string.Join(' ', services)} {what} within {timeout.TotalSeconds:0} s ({detail})");
            }
            await Task.Delay(PollInterval); // polling the engine's view, bounded by the timeout
        }
    }

    private async Task<Dictionary<string, State>> StatesAsync(string[] services)
    {
        var inspect = await DockerAsync(
            ["inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}} {{.State.Pid}}",
             .. services.Select(s => _containers[s])]);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        return services.Zip(inspect.OutputLines.Select(l => l.Split(' ')))
            .ToDictionary(p => p.First, p => new State(p.Second[0], p.Second[1],
                int.Parse(p.Second[2], CultureInfo.InvariantCulture), int.Parse(p.Second[3], CultureInfo.InvariantCulture)), StringComparer.Ordinal);
    }

    private async Task<string[]> VolumesAsync()
    {
        var inspect = await DockerAsync(["inspect", "--format", "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}", .. _containers.Values]);
        return inspect.StandardOutput.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
    }

    private Task<ChildProcess.Result> ComposeAsync(TimeSpan timeout, params string[] args) =>
        ChildProcess.RunAsync("docker", ["compose", "--ansi", "never", "--project-name", Project, "--file", "docker-compose.yml", .. args], timeout,
            RepositoryFiles.Root, _environment);

    private static Task<ChildProcess.Result> DockerAsync(params string[] args) =>
        ChildProcess.RunAsync("docker", args, CommandTimeout);

    /// <summary>Compose v2 and the base images (scripts/docker-standins.sh), after taking down what test runs that
    /// are gone (their process id names no process) left behind.</summary>
    private static async Task<ChildProcess.Result> PrepareAsync()
    {
        var projects = await DockerAsync("ps", "--all", "--filter", $"label={ProjectLabel}", "--format", $"{{{{.Label \"{ProjectLabel}\"}}}}");
        foreach (var project in projects.OutputLines.Distinct(StringComparer.Ordinal).Where(p => p.StartsWith(ProjectPrefix, StringComparison.Ordinal)))
        {
            var pid = int.Parse(project[ProjectPrefix.Length..project.LastIndexOf('-')], CultureInfo.InvariantCulture);
            if (!Directory.Exists($"/proc/{pid}")) await DockerAsync("compose", "--project-name", project, "down", "--volumes", "--remove-orphans");
        }
        return await ChildProcess.RunAsync("bash", [Path.Combine(RepositoryFiles.Root, "scripts", "docker-standins.sh")], PrepareTimeout,
            RepositoryFiles.Root);
    }
}

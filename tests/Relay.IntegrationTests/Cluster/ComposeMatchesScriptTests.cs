using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// The compose files and scripts/cluster.sh describe the same topologies with the same environment variables; only
/// the addresses differ (service names in compose, 127.0.0.1 in the script). docker-compose.yml is the shipped one,
/// three co-hosted nodes on 8080-8082, and must be what <c>cluster.sh up</c> starts without topology flags;
/// docker-compose.split.yml (two silos, two gateways on 8080/8081) must be what <c>--silos 2 --gateways 2</c>
/// starts. These tests keep each pair in step: the script prints what it would set (<c>cluster.sh env</c>).
/// </summary>
public class ComposeMatchesScriptTests
{
    private const string Shipped = "docker-compose.yml";
    private const string Split = "docker-compose.split.yml";
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Keys whose value is an address: compose names a service, the script says 127.0.0.1.</summary>
    private static readonly HashSet<string> AddressKeys = ["Cluster__Redis", "Cluster__AdvertisedIPAddress"];

    /// <summary>The <c>cluster.sh env</c> arguments that must give each file's topology: the shipped file is the
    /// script's default, so it gets none.</summary>
    private static string[] ScriptArguments(string file) => file == Shipped ? [] : ["--silos", "2", "--gateways", "2"];

    private static ComposeFile Compose(string file) =>
        ComposeFile.Parse(File.ReadAllText(Path.Combine(RepositoryFiles.Root, file)));

    /// <summary>process name → environment, from <c>cluster.sh env</c> with the file's arguments (default ports).</summary>
    private static async Task<Dictionary<string, Dictionary<string, string>>> ScriptEnvironmentAsync(string file)
    {
        var result = await ClusterScript.RunAsync(ScriptTimeout, null, ["env", .. ScriptArguments(file)]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var processes = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var line in result.OutputLines)
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(space > 0 && eq > space, $"unexpected line from cluster.sh env: {line}");
            var name = line[..space];
            if (!processes.TryGetValue(name, out var env)) processes[name] = env = new(StringComparer.Ordinal);
            env[line[(space + 1)..eq]] = line[(eq + 1)..];
        }
        return processes;
    }

    private static Dictionary<string, string> ClusterKeys(IReadOnlyDictionary<string, string> env) =>
        env.Where(kv => kv.Key.StartsWith("Cluster__", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>The role a process of either topology has, from its name.</summary>
    private static string RoleOf(string process) =>
        process.StartsWith("node", StringComparison.Ordinal) ? "Combined"
        : process.StartsWith("silo", StringComparison.Ordinal) ? "Silo"
        : "Gateway";

    [Fact]
    public async Task The_shipped_file_and_the_script_without_topology_flags_run_three_co_hosted_nodes()
    {
        var compose = Compose(Shipped);
        var script = await ScriptEnvironmentAsync(Shipped);
        Assert.Equal(["node1", "node2", "node3"], script.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["node1", "node2", "node3", "redis"], compose.Services.Keys.Order(StringComparer.Ordinal));
        foreach (var node in new[] { "node1", "node2", "node3" })
        {
            Assert.Equal("Combined", script[node]["Cluster__Role"]);
            Assert.Equal("Combined", compose.Services[node].Environment["Cluster__Role"]);
        }
    }

    [Fact]
    public async Task The_split_file_and_the_script_with_split_flags_run_two_silos_and_two_gateways()
    {
        var compose = Compose(Split);
        var script = await ScriptEnvironmentAsync(Split);
        Assert.Equal(["gateway1", "gateway2", "silo1", "silo2"], script.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["gateway1", "gateway2", "redis", "silo1", "silo2"], compose.Services.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(Shipped)]
    [InlineData(Split)]
    public async Task Every_process_gets_the_same_cluster_settings(string file)
    {
        var compose = Compose(file);
        var script = await ScriptEnvironmentAsync(file);
        Assert.NotEmpty(script);
        foreach (var (process, env) in script)
        {
            var composeEnv = ClusterKeys(compose.Services[process].Environment);
            var scriptEnv = ClusterKeys(env);
            Assert.Equal(scriptEnv.Keys.Order(StringComparer.Ordinal), composeEnv.Keys.Order(StringComparer.Ordinal));
            foreach (var (key, value) in scriptEnv.Where(kv => !AddressKeys.Contains(kv.Key)))
            {
                Assert.True(composeEnv[key] == value, $"{process}: {key} is '{composeEnv[key]}' in {file} but '{value}' in cluster.sh");
            }
        }
    }

    [Theory]
    [InlineData(Shipped)]
    [InlineData(Split)]
    public async Task Addresses_differ_only_in_the_host(string file)
    {
        var compose = Compose(file);
        var script = await ScriptEnvironmentAsync(file);
        foreach (var (process, scriptEnv) in script)
        {
            var composeEnv = compose.Services[process].Environment;

            // Same redis port; compose reaches the redis service by name, the script its private redis on loopback.
            Assert.Equal("127.0.0.1:6379", scriptEnv["Cluster__Redis"]);
            Assert.Equal("redis:6379", composeEnv["Cluster__Redis"]);
            Assert.Contains("redis", compose.Services.Keys);

            // A silo (a co-hosted node is one) advertises its container's name in compose (resolved at start),
            // 127.0.0.1 as a process.
            if (scriptEnv.TryGetValue("Cluster__AdvertisedIPAddress", out var advertised))
            {
                Assert.Equal("127.0.0.1", advertised);
                Assert.Equal(process, composeEnv["Cluster__AdvertisedIPAddress"]);
            }
        }
    }

    [Theory]
    [InlineData(Shipped)]
    [InlineData(Split)]
    public async Task Roles_and_the_shipped_failure_detection_are_set_everywhere(string file)
    {
        var compose = Compose(file);
        var script = await ScriptEnvironmentAsync(file);
        foreach (var (name, env) in script)
        {
            Assert.Equal(RoleOf(name), env["Cluster__Role"]);
            Assert.Equal(RoleOf(name), compose.Services[name].Environment["Cluster__Role"]);
            foreach (var source in new[] { env, compose.Services[name].Environment })
            {
                Assert.Equal("00:00:02", source["Cluster__ProbeTimeout"]);
                Assert.Equal("3", source["Cluster__NumMissedProbesLimit"]);
                Assert.Equal("2", source["Cluster__NumVotesForDeathDeclaration"]);
            }
        }
    }

    [Fact]
    public async Task The_shipped_nodes_are_on_loopback_ports_8080_to_8082_in_both()
    {
        var compose = Compose(Shipped);
        var script = await ScriptEnvironmentAsync(Shipped);
        // Compose publishes on 127.0.0.1 only, as the script listens; a variable may choose another host port.
        for (var k = 1; k <= 3; k++)
        {
            Assert.Equal([$"127.0.0.1:${{RELAY_NODE{k}_PORT:-{8079 + k}}}:8080"], compose.Services[$"node{k}"].Ports);
            Assert.Equal($"http://127.0.0.1:{8079 + k}", script[$"node{k}"]["ASPNETCORE_URLS"]);
        }
        Assert.Empty(compose.Services["redis"].Ports);
    }

    [Fact]
    public async Task The_split_gateways_are_on_loopback_ports_8080_and_8081_in_both()
    {
        var compose = Compose(Split);
        var script = await ScriptEnvironmentAsync(Split);
        Assert.Equal(["127.0.0.1:${RELAY_GATEWAY1_PORT:-8080}:8080"], compose.Services["gateway1"].Ports);
        Assert.Equal(["127.0.0.1:${RELAY_GATEWAY2_PORT:-8081}:8080"], compose.Services["gateway2"].Ports);
        Assert.Equal("http://127.0.0.1:8080", script["gateway1"]["ASPNETCORE_URLS"]);
        Assert.Equal("http://127.0.0.1:8081", script["gateway2"]["ASPNETCORE_URLS"]);
        Assert.Empty(compose.Services["silo1"].Ports);
        Assert.Empty(compose.Services["silo2"].Ports);
    }

    [Theory]
    [InlineData(Shipped)]
    [InlineData(Split)]
    public void Every_relay_service_runs_the_one_image(string file)
    {
        var compose = Compose(file);
        var relay = compose.Services.Keys.Where(s => s != "redis").ToList();
        Assert.NotEmpty(relay);
        Assert.All(relay, name => Assert.Equal("relay:latest", compose.Services[name].Image));
    }

    [Fact]
    public void The_telemetry_overlay_points_every_shipped_node_and_nothing_else_at_the_collector()
    {
        // An overlay naming a service the cluster file lacks would start it without an image; one missing a node
        // would leave that node unexported.
        var shipped = Compose(Shipped);
        var overlay = Compose("docker-compose.otel.yml");
        Assert.Equal(
            shipped.Services.Keys.Where(s => s != "redis").Append("otel-collector").Order(StringComparer.Ordinal),
            overlay.Services.Keys.Order(StringComparer.Ordinal));
        foreach (var node in shipped.Services.Keys.Where(s => s != "redis"))
        {
            Assert.Equal("http://otel-collector:4317", overlay.Services[node].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        }
    }
}

using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Cluster;

/// <summary>
/// docker-compose.yml and scripts/cluster.sh describe one topology (redis, two silos, two gateways on 8080/8081)
/// with the same environment variables; only the addresses differ (service names in compose, 127.0.0.1 in the
/// script). These tests keep the two in step: the script prints what it would set (<c>cluster.sh env</c>).
/// </summary>
public class ComposeMatchesScriptTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Keys whose value is an address: compose names a service, the script says 127.0.0.1.</summary>
    private static readonly HashSet<string> AddressKeys = ["Cluster__Redis", "Cluster__AdvertisedIPAddress"];

    private static ComposeFile Compose() =>
        ComposeFile.Parse(File.ReadAllText(Path.Combine(RepositoryFiles.Root, "docker-compose.yml")));

    /// <summary>process name → environment, from <c>cluster.sh env --silos 2 --gateways 2</c> (default ports).</summary>
    private static async Task<Dictionary<string, Dictionary<string, string>>> ScriptEnvironmentAsync()
    {
        var result = await ClusterScript.RunAsync(ScriptTimeout, null, "env", "--silos", "2", "--gateways", "2");
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

    [Fact]
    public async Task Both_run_the_same_processes()
    {
        var compose = Compose();
        var script = await ScriptEnvironmentAsync();
        Assert.Equal(["gateway1", "gateway2", "silo1", "silo2"], script.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["gateway1", "gateway2", "redis", "silo1", "silo2"], compose.Services.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("silo1")]
    [InlineData("silo2")]
    [InlineData("gateway1")]
    [InlineData("gateway2")]
    public async Task Every_process_gets_the_same_cluster_settings(string process)
    {
        var composeEnv = ClusterKeys(Compose().Services[process].Environment);
        var scriptEnv = ClusterKeys((await ScriptEnvironmentAsync())[process]);

        Assert.Equal(scriptEnv.Keys.Order(StringComparer.Ordinal), composeEnv.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in scriptEnv.Where(kv => !AddressKeys.Contains(kv.Key)))
        {
            Assert.True(composeEnv[key] == value, $"{process}: {key} is '{composeEnv[key]}' in docker-compose.yml but '{value}' in cluster.sh");
        }
    }

    [Theory]
    [InlineData("silo1")]
    [InlineData("silo2")]
    [InlineData("gateway1")]
    [InlineData("gateway2")]
    public async Task Addresses_differ_only_in_the_host(string process)
    {
        var compose = Compose();
        var composeEnv = compose.Services[process].Environment;
        var scriptEnv = (await ScriptEnvironmentAsync())[process];

        // Same redis port; compose reaches the redis service by name, the script its private redis on loopback.
        Assert.Equal("127.0.0.1:6379", scriptEnv["Cluster__Redis"]);
        Assert.Equal("redis:6379", composeEnv["Cluster__Redis"]);
        Assert.Contains("redis", compose.Services.Keys);

        // A silo advertises its container's name in compose (resolved at start), 127.0.0.1 as a process.
        if (scriptEnv.TryGetValue("Cluster__AdvertisedIPAddress", out var advertised))
        {
            Assert.Equal("127.0.0.1", advertised);
            Assert.Equal(process, composeEnv["Cluster__AdvertisedIPAddress"]);
        }
    }

    [Fact]
    public async Task Roles_and_the_shipped_failure_detection_are_set_everywhere()
    {
        var compose = Compose();
        var script = await ScriptEnvironmentAsync();
        foreach (var (name, env) in script)
        {
            var role = name.StartsWith("silo", StringComparison.Ordinal) ? "Silo" : "Gateway";
            Assert.Equal(role, env["Cluster__Role"]);
            Assert.Equal(role, compose.Services[name].Environment["Cluster__Role"]);
            foreach (var source in new[] { env, compose.Services[name].Environment })
            {
                Assert.Equal("00:00:02", source["Cluster__ProbeTimeout"]);
                Assert.Equal("3", source["Cluster__NumMissedProbesLimit"]);
                Assert.Equal("2", source["Cluster__NumVotesForDeathDeclaration"]);
            }
        }
    }

    [Fact]
    public async Task Gateways_are_on_loopback_ports_8080_and_8081_in_both()
    {
        var compose = Compose();
        var script = await ScriptEnvironmentAsync();
        // Compose publishes on 127.0.0.1 only, as the script listens; a variable may choose another host port.
        Assert.Equal(["127.0.0.1:${RELAY_GATEWAY1_PORT:-8080}:8080"], compose.Services["gateway1"].Ports);
        Assert.Equal(["127.0.0.1:${RELAY_GATEWAY2_PORT:-8081}:8080"], compose.Services["gateway2"].Ports);
        Assert.Equal("http://127.0.0.1:8080", script["gateway1"]["ASPNETCORE_URLS"]);
        Assert.Equal("http://127.0.0.1:8081", script["gateway2"]["ASPNETCORE_URLS"]);
        Assert.Empty(compose.Services["silo1"].Ports);
        Assert.Empty(compose.Services["silo2"].Ports);
    }

    [Fact]
    public void Every_relay_service_runs_the_one_image()
    {
        var compose = Compose();
        foreach (var name in new[] { "silo1", "silo2", "gateway1", "gateway2" })
        {
            Assert.Equal("relay:latest", compose.Services[name].Image);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Relay.IntegrationTests.Cluster;
using Relay.IntegrationTests.Infrastructure;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue 14, CI-sized: the load client of <c>bench/scale.sh</c> (<c>bench/scale/scale.mjs</c>: worker processes,
/// loopback source addresses 127.0.0.2-9, meshes of 10 with real-client presence, a connect storm, heartbeats,
/// directs and broadcasts, a mass departure) against a child relay, 5,000 peers in 500 meshes. It asserts the
/// client's correctness checks, never its timings (the machine is shared): everyone registered and held, no delivery
/// lost, duplicated or out of order, no offline for a live peer, and every departure's offline heard exactly once by
/// each remaining member of its mesh.
/// </summary>
[Trait("Category", "Cluster")] // a child relay and load workers: one at a time, after the parallel tests
[Collection(ClusterProcesses.Name)]
public sealed class ScaleLoadTests
{
    private const int Peers = 5000;
    private const int Departures = 2500;
    private static readonly string ClientFolder = Path.Combine(RepositoryFiles.Root, "bench", "scale");
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Five_thousand_peers_in_meshes_of_ten_register_exchange_without_loss_and_each_departure_is_heard_once()
    {
        Assert.True(Directory.Exists(Path.Combine(ClientFolder, "node_modules", "ws")),
            "ws is needed (scripts/test.sh prepares it: npm ci in bench/scale)");
        await using var relay = await LimitedRelayProcess.StartAsync(8192, "Relay:MaxConnectionsPerAddress=100000", "Relay:MaxMeshesPerAddress=100000", "Relay:MaxMeshes=100000");

        var result = await RunClientAsync(
            "--url", relay.Mesh("unused").GetLeftPart(UriPartial.Path), "--peers", Peers.ToString(CultureInfo.InvariantCulture),
            "--workers", "2", "--steady", "5", "--direct-rate", "500", "--broadcast-rate", "50",
            "--depart", Departures.ToString(CultureInfo.InvariantCulture), "--depart-window", "30", "--settle", "0");

        Assert.Equal(Peers, result.GetProperty("registered").GetInt32());
        Assert.Equal(Peers, result.GetProperty("held").GetInt32());
        Assert.Equal(0, result.GetProperty("refused_at_connect").GetInt32());
        Assert.True(result.GetProperty("expected").GetInt32() > 0, "no background traffic was sent");
        foreach (var check in new[] { "lost", "duplicated", "reordered", "false_offline", "relay_closed", "relay_errors", "foreign" })
        {
            Assert.True(result.GetProperty(check).GetInt32() == 0, $"{check}: {result}");
        }
        var departure = result.GetProperty("departure");
        Assert.Equal(Departures, departure.GetProperty("closed").GetInt32());
        // Meshes of 10 losing 5 each: every one of the 2,500 departed is heard by the 5 members that stayed.
        Assert.Equal(Departures * 5, departure.GetProperty("expected").GetInt32());
        Assert.Equal(departure.GetProperty("expected").GetInt32(), departure.GetProperty("once").GetInt32());
        Assert.Equal(0, departure.GetProperty("twice").GetInt32());
        Assert.Empty(result.GetProperty("failures").EnumerateArray());
        Assert.True(await relay.PingsAsync(), "the relay stopped answering /ping");
    }

    /// <summary>Runs the load client to its end (bounded) and returns its last line, the JSON of every figure.</summary>
    private static async Task<JsonElement> RunClientAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = ClientFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["scale.mjs", .. arguments]) start.ArgumentList.Add(arg);
        using var client = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = client.StandardOutput.ReadToEndAsync();
        var stderr = client.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ClientTimeout);
        try
        {
            await client.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            client.Kill(entireProcessTree: true);
            throw new TimeoutException($"the load client did not finish within {ClientTimeout}:\n{await stderr}");
        }
        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var json = lines.LastOrDefault(l => l.StartsWith('{'))
            ?? throw new InvalidOperationException($"the load client printed no result (exit {client.ExitCode}):\n{await stderr}");
        return JsonDocument.Parse(json).RootElement.Clone();
    }
}

using System.Diagnostics;
using System.Globalization;

namespace Relay.Chaos;

/// <summary>One memory sample of one process: its RSS, its managed heap after the last GC without its fragmentation
/// (bytes, from its <c>/metrics</c>; null for redis or when the scrape failed), whether that GC was a full one the
/// driver asked for (<see cref="FullCollection"/>: then the heap is what is live), the run's client sockets it held
/// then, and its silo's grain activations (0 without a silo).</summary>
internal readonly record struct RssSample(double At, long Kilobytes, long? HeapBytes, bool AfterFullGc, int Sockets, long Activations);

/// <summary>A process of the cluster as the run saw it: one pid, from when it was first seen.</summary>
internal sealed class NodeProcess(string name, int pid, double firstSeen)
{
    public string Name { get; } = name;
    public int Pid { get; } = pid;
    public double FirstSeen { get; } = firstSeen;
    public List<RssSample> Rss { get; } = [];

    /// <summary>When the driver last asked this process for a full GC (run clock; null: never).</summary>
    public double? FullGcRequestedAt { get; set; }

    public bool Alive => Directory.Exists($"/proc/{Pid}");
}

/// <summary>
/// The process cluster <c>scripts/cluster.sh</c> started (its PID file in <c>CLUSTER_DIR</c>): kills and restarts its
/// nodes through the script, as an operator or orchestrator would, and samples every process's RSS.
/// </summary>
internal sealed class ClusterNodes(ChaosOptions options, Func<int, int> socketsOnPort) : IDisposable
{
    // Sum over the generations of the System.Runtime gauge dotnet.gc.last_collection.heap.size, as the Prometheus
    // exporter names it: what the heap held right after the last GC.
    private const string HeapMetric = "dotnet_gc_last_collection_heap_size_bytes";

    // What of that heap was free space between objects (subtracted: after a full GC, the rest is what is live).
    private const string FragmentationMetric = "dotnet_gc_last_collection_heap_fragmentation_size_bytes";

    // Collections per generation (gen2 counts the full ones): tells whether the GC asked for has run.
    private const string Gen2Metric = "dotnet_gc_collections_total";

    // Orleans' gauge orleans-catalog-activations: the grain activations a silo holds.
    private const string ActivationsMetric = "orleans_catalog_activations";

    private readonly Dictionary<int, NodeProcess> _processes = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };

    public IReadOnlyCollection<NodeProcess> Processes => _processes.Values;

    /// <summary>The relay nodes (not redis), by name, as the PID file lists them.</summary>
    public string[] RelayNodes() => [.. ReadPids().Select(p => p.Name).Where(n => n != "redis").Order(StringComparer.Ordinal)];

    public Task KillAsync(string node) => ScriptAsync("kill", node);

    public Task RestartAsync(string node) => ScriptAsync("restart", node, "--timeout", "120");

    /// <summary>Restarts redis the way an operator does: SHUTDOWN SAVE (the data survives in its dump), then start.</summary>
    public async Task RestartRedisAsync()
    {
        var port = File.ReadAllText(Path.Combine(options.ClusterDir, "run", "redis.ready")).Split(' ')[1].Trim();
        await RunAsync("redis-cli", ["-p", port, "shutdown", "save"], allowFailure: true);
        await ScriptAsync("restart", "redis", "--timeout", "60");
    }

    public async Task SampleAsync()
    {
        var now = RunClock.Now;
        foreach (var (name, pid) in ReadPids().ToList())
        {
            if (!_processes.TryGetValue(pid, out var process)) _processes[pid] = process = new NodeProcess(name, pid, now);
            var rss = File.Exists($"/proc/{pid}/status")
                ? File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
                : null;
            if (rss is null) continue;
            var kilobytes = long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            var port = HttpPort(name);
            if (port is not { } p)
            {
                process.Rss.Add(new RssSample(now, kilobytes, null, false, 0, 0));
                continue;
            }
            var due = options.FullGcEvery > 0 && now - (process.FullGcRequestedAt ?? double.MinValue) >= options.FullGcEvery;
            if (due) process.FullGcRequestedAt = now;
            var (scraped, fullGc) = due ? await ScrapeAfterFullGcAsync(pid, p) : (await ScrapeAsync(p), false);
            process.Rss.Add(new RssSample(now, kilobytes, scraped.Heap, fullGc, socketsOnPort(p), scraped.Activations));
        }
    }

    /// <summary>Asks the node for a full GC (<see cref="FullCollection"/>), then reads its metrics; the sample counts as
    /// after a full GC only once the collection shows in the node's own gen2 count (the exporter caches a scrape for a
    /// few hundred milliseconds, so the first read after the request may predate it).</summary>
    private async Task<((long? Heap, long Activations, long? Gen2) Scraped, bool FullGc)> ScrapeAfterFullGcAsync(int pid, int port)
    {
        var before = await ScrapeAsync(port);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var requested = before.Gen2 is not null && await FullCollection.RequestAsync(pid, limit.Token);
        var after = await ScrapeAsync(port);
        for (var tries = 0; requested && !(after.Gen2 > before.Gen2) && tries < 12; tries++)
        {
            await Task.Delay(250);
            after = await ScrapeAsync(port);
        }
        return (after, requested && after.Gen2 > before.Gen2);
    }

    public void Dispose() => _http.Dispose();

    private async Task<(long? Heap, long Activations, long? Gen2)> ScrapeAsync(int port)
    {
        string metrics;
        try
        {
            metrics = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (null, 0, null); // the node is being killed or restarted: the next sample reads it
        }

        long? heap = null, gen2 = null;
        long fragmentation = 0, activations = 0;
        foreach (var line in metrics.AsSpan().EnumerateLines())
        {
            if (line.IsEmpty || line[0] == '#') continue;
            var value = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            if (line.StartsWith(HeapMetric + "{", StringComparison.Ordinal)) heap = (heap ?? 0) + value;
            else if (line.StartsWith(FragmentationMetric + "{", StringComparison.Ordinal)) fragmentation += value;
            else if (line.StartsWith(Gen2Metric + "{", StringComparison.Ordinal) && line.Contains("gc_heap_generation=\"gen2\"", StringComparison.Ordinal)) gen2 = value;
            else if (line.StartsWith(ActivationsMetric + "{", StringComparison.Ordinal) || line.StartsWith(ActivationsMetric + " ", StringComparison.Ordinal)) activations += value;
        }

        return (heap - fragmentation, activations, gen2);
    }

    /// <summary>The HTTP (and WebSocket) port of a relay node, from how scripts/cluster.sh checks it is ready.</summary>
    private int? HttpPort(string name)
    {
        var ready = Path.Combine(options.ClusterDir, "run", $"{name}.ready");
        if (!File.Exists(ready)) return null;
        var parts = File.ReadAllText(ready).Split(' ', StringSplitOptions.TrimEntries);
        return parts[0] == "http" ? int.Parse(parts[1], CultureInfo.InvariantCulture) : null;
    }

    private IEnumerable<(string Name, int Pid)> ReadPids()
    {
        var file = Path.Combine(options.ClusterDir, "pids");
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (IOException)
        {
            yield break; // being rewritten by a restart: the next sample reads it
        }

        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            if (parts.Length >= 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid)) yield return (parts[0], pid);
        }
    }

    private Task ScriptAsync(params string[] args) => RunAsync("bash", [options.ClusterScript, .. args], allowFailure: false);

    private static async Task RunAsync(string file, string[] args, bool allowFailure)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}

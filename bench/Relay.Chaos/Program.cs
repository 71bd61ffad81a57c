using System.Globalization;
using Relay.Chaos;

// The chaos soak (bench/chaos.sh): peers in small meshes spread over a process cluster's gateways, real-client
// traffic, a node killed and restarted every 30-60 s and redis restarted once, then the checker. Exit code 0 when
// every check passed, 1 when one failed, 2 on a usage or set-up error.
ChaosOptions options;
try
{
    options = ChaosOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"chaos: {e.Message}");
    return 2;
}

var run = Guid.NewGuid().ToString("N")[..6];
var random = new Random(options.Seed);
var nodes = new ClusterNodes(options);
var traffic = new PeerTraffic(options, run, random);
var chaos = new NodeChaos(options, nodes, random);
using var stop = new CancellationTokenSource();
void Say(string line) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chaos [{RunClock.Now,7:F1} s] {line}"));

var sampling = Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        nodes.Sample();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
    }
});

Say($"connecting {options.Peers} peers (seed {options.Seed})");
await traffic.ConnectAllAsync(stop.Token);
Say($"connected; traffic for {options.Duration} s");
var start = RunClock.Now;
using var idle = new CancellationTokenSource();
var sending = traffic.RunAsync(start + options.Duration, idle.Token);
await chaos.RunAsync(start, stop.Token);
foreach (var e in chaos.Events) Say($"{e.At - start:F1} s: {e.What} {e.Node}");
await RunClock.Until(start + options.Duration, stop.Token);
Say("checked traffic stopped (presences go on); 10 s for frames in flight");
await Task.Delay(TimeSpan.FromSeconds(10));
var rosters = await FinalRosters.CompareAsync(options, traffic, run);
ChaosConnection.FreezeRecords();
await idle.CancelAsync();
await sending;
var verdict = new ChaosChecker(options, traffic).Check();
nodes.Sample();

var memory = new List<string>();
var memoryPassed = true;
foreach (var process in nodes.Processes.Where(p => p.Alive).OrderBy(p => p.Name, StringComparer.Ordinal))
{
    var baseline = process.Rss.FirstOrDefault(s => s.At >= Math.Max(process.FirstSeen, start) + 60);
    var end = process.Rss.LastOrDefault();
    if (baseline.Kilobytes == 0 || end.At - baseline.At < 30)
    {
        memory.Add($"{process.Name} (pid {process.Pid}): up too short to judge");
        continue;
    }

    var growth = (double)end.Kilobytes / baseline.Kilobytes - 1;
    var ok = growth <= options.MaxRssGrowth;
    memoryPassed &= ok;
    memory.Add(string.Create(CultureInfo.InvariantCulture,
        $"{process.Name} (pid {process.Pid}): {baseline.Kilobytes / 1024.0:F0} -> {end.Kilobytes / 1024.0:F0} ({growth:+0.0%;-0.0%}){(ok ? "" : " **grew**")}"));
}

await stop.CancelAsync();
await sampling;
await traffic.CloseAllAsync();
var report = ChaosReport.Render(options, traffic, chaos, verdict, rosters, memory, memoryPassed, start);
Console.Write(report);
return verdict.Passed && rosters.Count == 0 && memoryPassed ? 0 : 1;

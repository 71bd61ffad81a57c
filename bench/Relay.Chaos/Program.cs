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
var traffic = new PeerTraffic(options, run, random);
var nodes = new ClusterNodes(options, traffic.SocketsOn);
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

// Memory is flat when a process's RSS at the end is within MaxRssGrowth of its level a minute after it started. A
// gateway that now holds more sockets than then (peers of a killed gateway moved to it) is not comparable: its line
// says so, with RSS per socket, and it is judged only when its socket count is within 10 % of the baseline's.
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
    var comparable = Math.Abs(end.Sockets - baseline.Sockets) <= 0.1 * Math.Max(baseline.Sockets, 1);
    var ok = !comparable || growth <= options.MaxRssGrowth;
    memoryPassed &= ok;
    var sockets = baseline.Sockets + end.Sockets == 0 ? "" : $", sockets {baseline.Sockets} -> {end.Sockets}";
    var judged = ok ? comparable ? "" : " (socket count changed: not judged)" : " **grew**";
    memory.Add(string.Create(CultureInfo.InvariantCulture,
        $"{process.Name} (pid {process.Pid}): {baseline.Kilobytes / 1024.0:F0} -> {end.Kilobytes / 1024.0:F0} MiB ({growth:+0.0%;-0.0%}){sockets}{judged}"));
}

await stop.CancelAsync();
await sampling;
await traffic.CloseAllAsync();
var report = ChaosReport.Render(options, traffic, chaos, verdict, rosters, memory, memoryPassed, start);
Console.Write(report);
return verdict.Passed && rosters.Count == 0 && memoryPassed ? 0 : 1;

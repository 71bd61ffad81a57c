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
using var nodes = new ClusterNodes(options, traffic.SocketsOn);
var chaos = new NodeChaos(options, nodes, random);
using var stop = new CancellationTokenSource();
void Say(string line) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chaos [{RunClock.Now,7:F1} s] {line}"));

var sampling = Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        await nodes.SampleAsync();
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
await stop.CancelAsync();
await sampling;
await nodes.SampleAsync();
var memory = MemoryCheck.Judge(options, nodes.Processes, start);

await traffic.CloseAllAsync();
var report = ChaosReport.Render(options, traffic, chaos, verdict, rosters, memory, start);
Console.Write(report);
return verdict.Passed && rosters.Count == 0 && memory.Passed ? 0 : 1;

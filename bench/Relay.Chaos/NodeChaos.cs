namespace Relay.Chaos;

/// <summary>What the chaos did, and when (run-clock seconds).</summary>
internal readonly record struct ChaosEvent(double At, string What, string Node);

/// <summary>
/// Every 30-60 s (<see cref="ChaosOptions.KillEveryMin"/>..<see cref="ChaosOptions.KillEveryMax"/>) kills one relay
/// node at random (of those <see cref="ChaosOptions.KillOnly"/> names) with SIGKILL and restarts it 5-20 s later; once in the run, while every node is up, it restarts
/// redis. Nothing is killed in the last <see cref="ChaosOptions.QuietTail"/> seconds, so that every departure's
/// offline is due before the run ends.
/// </summary>
internal sealed class NodeChaos(ChaosOptions options, ClusterNodes nodes, Random random)
{
    public List<ChaosEvent> Events { get; } = [];
    public bool RedisRestarted { get; private set; }

    public async Task RunAsync(double start, CancellationToken cancellation)
    {
        var lastKill = start + options.Duration - options.QuietTail;
        var next = start + Between(options.KillEveryMin, options.KillEveryMax);
        while (next <= lastKill && !cancellation.IsCancellationRequested)
        {
            await RunClock.Until(next, cancellation);
            var candidates = nodes.RelayNodes().Where(n => n.StartsWith(options.KillOnly, StringComparison.Ordinal)).ToArray();
            if (candidates.Length == 0) throw new InvalidOperationException($"no relay node's name starts with '{options.KillOnly}'");
            var node = candidates[random.Next(candidates.Length)];
            await nodes.KillAsync(node);
            var killedAt = RunClock.Now;
            Events.Add(new ChaosEvent(killedAt, "kill -9", node));
            await RunClock.Until(RunClock.Now + Between(options.DownMin, options.DownMax), cancellation);
            await nodes.RestartAsync(node);
            Events.Add(new ChaosEvent(RunClock.Now, "restarted (ready)", node));
            if (!RedisRestarted && RunClock.Now + 15 <= lastKill + options.QuietTail - 45) await RestartRedisAsync(cancellation);
            next = Math.Max(killedAt + Between(options.KillEveryMin, options.KillEveryMax), RunClock.Now + 10);
        }

        if (!RedisRestarted && RunClock.Now <= start + options.Duration - 45) await RestartRedisAsync(cancellation);
    }

    private async Task RestartRedisAsync(CancellationToken cancellation)
    {
        await RunClock.Until(RunClock.Now + 5, cancellation);
        Events.Add(new ChaosEvent(RunClock.Now, "shutdown save", "redis"));
        await nodes.RestartRedisAsync();
        Events.Add(new ChaosEvent(RunClock.Now, "restarted (ready)", "redis"));
        RedisRestarted = true;
    }

    private double Between(double min, double max) => min + random.NextDouble() * (max - min);
}

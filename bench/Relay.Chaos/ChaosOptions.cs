using System.Globalization;

namespace Relay.Chaos;

/// <summary>What a chaos run does; every value has a command-line option (<c>--name value</c>).</summary>
internal sealed record ChaosOptions
{
    /// <summary>The gateways' WebSocket URLs (comma-separated, as <c>scripts/cluster.sh up</c> prints them).</summary>
    public required Uri[] Urls { get; init; }

    /// <summary>The cluster's state directory (<c>CLUSTER_DIR</c>): its PID file says what to kill and sample.</summary>
    public required string ClusterDir { get; init; }

    /// <summary><c>scripts/cluster.sh</c>, which kills and restarts nodes.</summary>
    public required string ClusterScript { get; init; }

    public int Peers { get; init; } = 2000;
    public int MeshSize { get; init; } = 10;

    /// <summary>How long traffic runs, in seconds; kills stop <see cref="QuietTail"/> seconds before its end.</summary>
    public double Duration { get; init; } = 600;
    public double QuietTail { get; init; } = 60;
    public double KillEveryMin { get; init; } = 30;
    public double KillEveryMax { get; init; } = 60;
    /// <summary>When set, only relay nodes whose name starts with it are killed (<c>gateway</c>: churn without
    /// silo loss; <c>gateway2</c>: gateway1 survives the whole run and takes every moved socket).</summary>
    public string KillOnly { get; init; } = "";
    public double DownMin { get; init; } = 5;
    public double DownMax { get; init; } = 20;
    public double ReconnectMin { get; init; } = 1;
    public double ReconnectMax { get; init; } = 5;

    /// <summary>Share of the peers whose socket died that come back under the same id; the others come back as a
    /// new peer (a new id in the same mesh), so that the old id's offline is checked too.</summary>
    public double ReturnShare { get; init; } = 0.5;

    public double PresenceEvery { get; init; } = 10;
    public double DirectEvery { get; init; } = 4;
    public double BroadcastEvery { get; init; } = 10;
    public double StreamEvery { get; init; } = 10;

    /// <summary>Offline must reach each survivor within [min, max] seconds of the peer's last frame.</summary>
    public double OfflineMin { get; init; } = 30;
    public double OfflineMax { get; init; } = 40;

    /// <summary>Growth allowed of each surviving process's RSS over its level at the same load (see <see cref="MemoryCheck"/>).</summary>
    public double MaxRssGrowth { get; init; } = 0.10;

    /// <summary>Growth allowed of each surviving relay node's managed heap after GC over its level at the same
    /// load (see <see cref="MemoryCheck"/>).</summary>
    public double MaxHeapGrowth { get; init; } = 0.10;

    /// <summary>How often (seconds) the driver asks each relay node for a full GC before it reads the node's heap, so
    /// that the heap compared is what is live (see <see cref="FullCollection"/>); 0: never.</summary>
    public double FullGcEvery { get; init; } = 30;

    public int Seed { get; init; } = Environment.TickCount;

    public static ChaosOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 == args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            values[args[i][2..]] = args[++i];
        }

        string Take(string name) => values.Remove(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
        double Number(string name, double fallback) =>
            values.Remove(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

        var defaults = new ChaosOptions { Urls = [], ClusterDir = "", ClusterScript = "" };
        var options = new ChaosOptions
        {
            Urls = [.. Take("urls").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u))],
            ClusterDir = Take("cluster-dir"),
            ClusterScript = Take("cluster-script"),
            Peers = (int)Number("peers", defaults.Peers),
            MeshSize = (int)Number("mesh-size", defaults.MeshSize),
            Duration = Number("duration", defaults.Duration),
            QuietTail = Number("quiet-tail", defaults.QuietTail),
            KillEveryMin = Number("kill-every-min", defaults.KillEveryMin),
            KillEveryMax = Number("kill-every-max", defaults.KillEveryMax),
            KillOnly = values.Remove("kill-only", out var killOnly) ? killOnly : defaults.KillOnly,
            DownMin = Number("down-min", defaults.DownMin),
            DownMax = Number("down-max", defaults.DownMax),
            ReconnectMin = Number("reconnect-min", defaults.ReconnectMin),
            ReconnectMax = Number("reconnect-max", defaults.ReconnectMax),
            ReturnShare = Number("return-share", defaults.ReturnShare),
            PresenceEvery = Number("presence-every", defaults.PresenceEvery),
            DirectEvery = Number("direct-every", defaults.DirectEvery),
            BroadcastEvery = Number("broadcast-every", defaults.BroadcastEvery),
            StreamEvery = Number("stream-every", defaults.StreamEvery),
            OfflineMin = Number("offline-min", defaults.OfflineMin),
            OfflineMax = Number("offline-max", defaults.OfflineMax),
            MaxRssGrowth = Number("max-rss-growth", defaults.MaxRssGrowth),
            MaxHeapGrowth = Number("max-heap-growth", defaults.MaxHeapGrowth),
            FullGcEvery = Number("full-gc-every", defaults.FullGcEvery),
            Seed = (int)Number("seed", defaults.Seed),
        };
        if (values.Count > 0) throw new ArgumentException($"unknown option --{values.Keys.First()}");
        if (options.Peers < 2 || options.MeshSize < 2) throw new ArgumentException("--peers and --mesh-size must be at least 2");
        return options;
    }
}

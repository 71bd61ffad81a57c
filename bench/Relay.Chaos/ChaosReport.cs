using System.Globalization;
using System.Text;

namespace Relay.Chaos;

/// <summary>The run's report: markdown for a reader (stdout) and a last line of JSON-ish key=value figures for
/// scripts and the CI test.</summary>
internal static class ChaosReport
{
    public static string Render(ChaosOptions options, PeerTraffic traffic, NodeChaos chaos, ChaosVerdict verdict,
        List<RosterDifference> rosters, MemoryVerdict memory, double trafficStart)
    {
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"## Chaos soak: {options.Peers} peers in meshes of {options.MeshSize}, {options.Duration / 60:F1} min over {options.Urls.Length} gateways (seed {options.Seed})");
        text.AppendLine();
        text.AppendLine("| t s | event | node |");
        text.AppendLine("|---:|---|---|");
        foreach (var e in chaos.Events) text.AppendLine(inv, $"| {e.At - trafficStart:F1} | {e.What} | {e.Node} |");
        text.AppendLine();
        text.AppendLine(inv, $"Sockets lost and replaced: {traffic.Reconnects} ({traffic.Returned} came back under their id, {traffic.Replaced} as new peers).");
        text.AppendLine();
        text.AppendLine("| check | result |");
        text.AppendLine("|---|---|");
        text.AppendLine(inv, $"| deliveries due (both sockets open) | {verdict.Due:N0} |");
        text.AppendLine(inv, $"| delivered once | {verdict.Delivered:N0} |");
        text.AppendLine(inv, $"| missing, loss reported (error for the frame, undelivered, lost_in_transit) | {verdict.MissingReported:N0} |");
        text.AppendLine(inv, $"| **missing, unreported** | {verdict.MissingUnreported:N0} |");
        text.AppendLine(inv, $"| duplicated / reordered | {verdict.Duplicates:N0} / {verdict.Reorders:N0} |");
        text.AppendLine(inv, $"| departures (ids that left for good) | {verdict.Departures} |");
        text.AppendLine(inv, $"| offline due (survivor x departed peer) | {verdict.OfflineDue} |");
        text.AppendLine(inv, $"| offline missing / duplicated / outside {options.OfflineMin}-{options.OfflineMax} s | {verdict.OfflineMissing} / {verdict.OfflineDuplicated} / {verdict.OfflineOutOfWindow} |");
        text.AppendLine(inv, $"| offline after the last frame, s (min / median / max) | {Spread(verdict.OfflineDelays)} |");
        text.AppendLine(inv, $"| false offline (peer never left) / ghosts | {verdict.FalseOffline} / {verdict.Ghosts} |");
        text.AppendLine(inv, $"| rosters differing from the open sockets (mesh grain, snapshot per gateway) | {rosters.Count} |");
        text.AppendLine(inv, $"| every surviving process within {options.MaxRssGrowth:P0} (RSS) and {options.MaxHeapGrowth:P0} (managed heap after GC) of its level at the same load, a minute or more after its start | {(memory.Passed ? "yes" : "**no**")} |");
        text.AppendLine(inv, $"| redis restarted | {(chaos.RedisRestarted ? "yes" : "no")} |");
        text.AppendLine(inv, $"| error frames by code | {string.Join(", ", verdict.ErrorCodes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))} |");
        text.AppendLine();
        text.AppendLine(inv, $"Memory (first sample at the end's load a minute or more after start -> at the end; managed heap: live after a full GC, the lowest over {MemoryCheck.Window:F0} s of samples):");
        text.AppendLine();
        foreach (var line in memory.Lines) text.AppendLine(inv, $"- {line}");
        if (verdict.Examples.Count + rosters.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("First failures:");
            text.AppendLine();
            foreach (var example in verdict.Examples) text.AppendLine(inv, $"- {example}");
            foreach (var r in rosters.Take(10))
            {
                text.AppendLine(inv, $"- {r.Mesh}, {r.Source}: missing [{string.Join(' ', r.Missing)}], extra [{string.Join(' ', r.Extra)}]");
            }
        }

        var passed = verdict.Passed && rosters.Count == 0 && memory.Passed;
        text.AppendLine();
        text.AppendLine(inv, $"chaos: {(passed ? "PASSED" : "FAILED")} due={verdict.Due} delivered={verdict.Delivered} reported={verdict.MissingReported} unreported={verdict.MissingUnreported} duplicated={verdict.Duplicates} reordered={verdict.Reorders} departures={verdict.Departures} offline_due={verdict.OfflineDue} offline_missing={verdict.OfflineMissing} offline_duplicated={verdict.OfflineDuplicated} offline_out_of_window={verdict.OfflineOutOfWindow} false_offline={verdict.FalseOffline} ghosts={verdict.Ghosts} rosters={rosters.Count} memory={(memory.Passed ? "ok" : "grew")} kills={chaos.Events.Count(e => e.What == "kill -9")} redis_restarted={chaos.RedisRestarted}");
        return text.ToString();
    }

    private static string Spread(List<double> values)
    {
        if (values.Count == 0) return "-";
        var sorted = values.Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture, $"{sorted[0]:F1} / {sorted[sorted.Length / 2]:F1} / {sorted[^1]:F1}");
    }
}

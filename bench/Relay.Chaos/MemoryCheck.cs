using System.Globalization;

namespace Relay.Chaos;

/// <summary>What the memory check found: one line per surviving process, and whether every one stayed flat.</summary>
internal sealed record MemoryVerdict(List<string> Lines, bool Passed);

/// <summary>
/// Memory is flat when, for every surviving process, both its RSS at the end is within
/// <see cref="ChaosOptions.MaxRssGrowth"/> of its level a minute after it started, and its managed heap after GC
/// (relay nodes, from <c>/metrics</c>) at the end is within <see cref="ChaosOptions.MaxHeapGrowth"/> of its level
/// then. The heap is what tells a leak (objects kept per departed peer or closed connection) from memory the
/// runtime keeps (GC segments committed after a burst, thread stacks, JIT code): an RSS that grew over a flat heap
/// is the runtime's. The heap after the last GC includes garbage that GC did not reach (a gen0 GC leaves gen2 as it
/// was), so each level is the lowest over <see cref="Window"/> seconds of samples. A gateway that now holds more
/// sockets than then (peers of a killed gateway moved to it) is not comparable: its line says so, and it is judged
/// only when its socket count is within 10 % of the baseline's. A silo likewise is judged only when it holds as many
/// grain activations (within 10 %) as then: those of a killed silo move to the survivors and stay there after it
/// restarts (Orleans does not move live activations back), so a survivor holding twice the grains is not a leak.
/// </summary>
internal static class MemoryCheck
{
    public const double Window = 60;

    public static MemoryVerdict Judge(ChaosOptions options, IEnumerable<NodeProcess> processes, double start)
    {
        var lines = new List<string>();
        var passed = true;
        foreach (var process in processes.Where(p => p.Alive).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var baselineAt = Math.Max(process.FirstSeen, start) + 60;
            var baseline = process.Rss.FirstOrDefault(s => s.At >= baselineAt);
            var end = process.Rss.LastOrDefault();
            if (baseline.Kilobytes == 0 || end.At - baseline.At < 30)
            {
                lines.Add($"{process.Name} (pid {process.Pid}): up too short to judge");
                continue;
            }

            var growth = (double)end.Kilobytes / baseline.Kilobytes - 1;
            var heapBefore = LowestHeap(process, baseline.At, baseline.At + Window);
            var heapAfter = LowestHeap(process, end.At - Window, end.At);
            var heapGrowth = heapBefore is > 0 && heapAfter is { } after ? (double)after / heapBefore.Value - 1 : (double?)null;
            var sameSockets = Math.Abs(end.Sockets - baseline.Sockets) <= 0.1 * Math.Max(baseline.Sockets, 1);
            var sameGrains = Math.Abs(end.Activations - baseline.Activations) <= 0.1 * Math.Max(baseline.Activations, 1);
            var comparable = sameSockets && sameGrains;
            var rssOk = growth <= options.MaxRssGrowth;
            var heapOk = heapGrowth is not { } g || g <= options.MaxHeapGrowth;
            var ok = !comparable || (rssOk && heapOk);
            passed &= ok;
            var sockets = baseline.Sockets + end.Sockets == 0 ? "" : $", sockets {baseline.Sockets} -> {end.Sockets}";
            if (baseline.Activations + end.Activations > 0) sockets += $", grain activations {baseline.Activations} -> {end.Activations}";
            var heap = heapGrowth is { } h
                ? string.Create(CultureInfo.InvariantCulture, $", managed heap after GC {heapBefore!.Value / 1048576.0:F1} -> {heapAfter!.Value / 1048576.0:F1} MiB ({h:+0.0%;-0.0%})")
                : "";
            var judged = !sameSockets ? " (socket count changed: not judged)"
                : !sameGrains ? " (grain activations changed: not judged)"
                : ok ? ""
                : !heapOk ? " **heap grew**"
                : " **RSS grew**";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{process.Name} (pid {process.Pid}): RSS {baseline.Kilobytes / 1024.0:F0} -> {end.Kilobytes / 1024.0:F0} MiB ({growth:+0.0%;-0.0%}){heap}{sockets}{judged}"));
        }

        return new MemoryVerdict(lines, passed);
    }

    private static long? LowestHeap(NodeProcess process, double from, double to) =>
        process.Rss.Where(s => s.At >= from && s.At <= to && s.HeapBytes is not null).Select(s => s.HeapBytes).Min();
}

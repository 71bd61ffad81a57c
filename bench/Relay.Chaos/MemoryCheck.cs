using System.Globalization;

namespace Relay.Chaos;

/// <summary>What the memory check found: one line per surviving process, and whether every one stayed flat.</summary>
internal sealed record MemoryVerdict(List<string> Lines, bool Passed);

/// <summary>
/// Memory is flat when, for every surviving process, both its RSS at the end is within
/// <see cref="ChaosOptions.MaxRssGrowth"/> of its level when it last carried the same load after its first minute,
/// and its managed heap after GC (relay nodes, from <c>/metrics</c>, without fragmentation) at the end is within
/// <see cref="ChaosOptions.MaxHeapGrowth"/> of its level then. The heap is what tells a leak (objects kept per
/// departed peer or closed connection) from memory the runtime keeps (GC segments committed after a burst, thread
/// stacks, JIT code): an RSS that grew over a flat heap is the runtime's. The heap after an ordinary GC includes
/// garbage that GC did not reach (a gen0 GC leaves gen2 as it was), so the driver asks every node for a full GC
/// every <see cref="ChaosOptions.FullGcEvery"/> seconds, and each level is the lowest over <see cref="Window"/>
/// seconds of the samples taken right after one.
/// <para>The same load: kills move peers and grains. The peers of a killed gateway reconnect to the others and
/// stay there; the activations of a killed silo move to the survivors and stay after it restarts (Orleans does not
/// move live activations back). Memory that grew with what a process holds is not a leak, so the baseline is the
/// first sample, a minute or more after the process started, at which it held within 10 % (or 2) of the sockets and
/// grain activations it holds at the end; a process that never did is not judged, and its line says so.</para>
/// </summary>
internal static class MemoryCheck
{
    public const double Window = 60;

    /// <summary>Time after its start before a process is measured: JIT, pools and GC commit settle.</summary>
    public const double WarmUp = 60;

    /// <summary>Shortest span between baseline and end that says anything about growth.</summary>
    public const double ShortestSpan = 30;

    public static MemoryVerdict Judge(ChaosOptions options, IEnumerable<NodeProcess> processes, double start)
    {
        var lines = new List<string>();
        var passed = true;
        foreach (var process in processes.Where(p => p.Alive).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var end = process.Rss.LastOrDefault();
            var warmedUp = Math.Max(process.FirstSeen, start) + WarmUp;
            var candidates = process.Rss.Where(s => s.At >= warmedUp && end.At - s.At >= ShortestSpan).ToList();
            if (candidates.Count == 0 || end.Kilobytes == 0)
            {
                lines.Add($"{process.Name} (pid {process.Pid}): up too short to judge");
                continue;
            }

            var sameLoad = candidates.FindIndex(s => SameLoad(s, end));
            var comparable = sameLoad >= 0;
            var baseline = candidates[Math.Max(sameLoad, 0)];
            var growth = (double)end.Kilobytes / baseline.Kilobytes - 1;
            var heapBefore = LowestHeap(process, baseline.At, baseline.At + Window);
            var heapAfter = LowestHeap(process, end.At - Window, end.At);
            var heapGrowth = heapBefore is > 0 && heapAfter is { } after ? (double)after / heapBefore.Value - 1 : (double?)null;
            var rssOk = growth <= options.MaxRssGrowth;
            var heapOk = heapGrowth is not { } g || g <= options.MaxHeapGrowth;
            var ok = !comparable || (rssOk && heapOk);
            passed &= ok;
            var load = baseline.Sockets + end.Sockets == 0 ? "" : $", sockets {baseline.Sockets} -> {end.Sockets}";
            if (baseline.Activations + end.Activations > 0) load += $", grain activations {baseline.Activations} -> {end.Activations}";
            var fullGcs = process.Rss.Count(s => s.AfterFullGc && s.At >= baseline.At);
            var heap = heapGrowth is { } h
                ? string.Create(CultureInfo.InvariantCulture, $", managed heap after GC {heapBefore!.Value / 1048576.0:F1} -> {heapAfter!.Value / 1048576.0:F1} MiB ({h:+0.0%;-0.0%}; {fullGcs} full GCs asked for)")
                : "";
            var judged = !comparable ? " (never held the end's load after its first minute: not judged)"
                : ok ? ""
                : !heapOk ? " **heap grew**"
                : " **RSS grew**";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{process.Name} (pid {process.Pid}): from {baseline.At:F0} s to {end.At:F0} s: RSS {baseline.Kilobytes / 1024.0:F0} -> {end.Kilobytes / 1024.0:F0} MiB ({growth:+0.0%;-0.0%}){heap}{load}{judged}"));
        }

        return new MemoryVerdict(lines, passed);
    }

    /// <summary>Within 10 % (or 2) of the sockets and of the grain activations held at the end (redis: always).</summary>
    private static bool SameLoad(RssSample sample, RssSample end) =>
        Math.Abs(end.Sockets - sample.Sockets) <= Math.Max(0.1 * end.Sockets, 2)
        && Math.Abs(end.Activations - sample.Activations) <= Math.Max(0.1 * end.Activations, 2);

    /// <summary>The lowest heap of the window, from the samples taken after a full GC when there are any (what is
    /// live), else from every sample (what the last GC of any kind left).</summary>
    private static long? LowestHeap(NodeProcess process, double from, double to)
    {
        var window = process.Rss.Where(s => s.At >= from && s.At <= to && s.HeapBytes is not null).ToList();
        var full = window.Where(s => s.AfterFullGc).ToList();
        return (full.Count > 0 ? full : window).Select(s => s.HeapBytes).Min();
    }
}

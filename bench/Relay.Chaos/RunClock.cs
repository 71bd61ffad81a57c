using System.Diagnostics;

namespace Relay.Chaos;

/// <summary>One monotonic clock for the whole run, in seconds since it started: every send, receive, close, kill and
/// sample is stamped with it, so the checker compares times taken in one process on one clock.</summary>
internal static class RunClock
{
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static double Now => Stopwatch.GetElapsedTime(Start).TotalSeconds;

    public static Task Until(double at, CancellationToken cancellation)
    {
        var wait = at - Now;
        return wait <= 0 ? Task.CompletedTask : Task.Delay(TimeSpan.FromSeconds(wait), cancellation);
    }
}

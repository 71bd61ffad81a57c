using System.Diagnostics;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Bounded retries of a bounded check, for a cluster that is healing after a node failure.</summary>
internal static class Eventually
{
    /// <summary>Runs <paramref name="attempt"/> (each try bounded to 5 s) until it succeeds; rethrows its failure once
    /// <paramref name="limit"/> has passed. Returns the number of tries.</summary>
    public static async Task<int> SucceedsAsync(Func<Task> attempt, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        for (var attempts = 1; ; attempts++)
        {
            try
            {
                await attempt().WaitAsync(TimeSpan.FromSeconds(5));
                return attempts;
            }
            catch (Exception) when (clock.Elapsed < limit)
            {
                // not yet: the cluster is still healing
            }
        }
    }
}

using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Relay.Gateway.Cluster;

/// <summary>
/// The cluster as a gateway-only node (an Orleans client, with no membership of its own) learns of it: the management
/// grain's membership table, read every <see cref="PollInterval"/>; a snapshot whenever a silo's status changed. One
/// small grain call a second per gateway; a death is seen at most that long after the silos declared it.
/// </summary>
internal sealed partial class PolledClusterView(IGrainFactory grains, TimeProvider time, ILogger<PolledClusterView> logger) : IClusterView
{
    internal static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public async IAsyncEnumerable<IReadOnlyList<ClusterSilo>> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = new Dictionary<SiloAddress, bool>();
        using var timer = new PeriodicTimer(PollInterval, time);
        do
        {
            ClusterSilo[]? silos = null;
            try
            {
                var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false, cancellationToken)
                    .WaitAsync(CallTimeout, time, cancellationToken);
                silos = [.. hosts.Select(h => new ClusterSilo(h.SiloAddress, h.SiloName ?? "", h.Status == SiloStatus.Dead))];
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
            {
                // The silo this client asked may be the one that just died: the next poll asks another.
                Log.PollFailed(logger, ex);
            }
            if (silos is not null && Changed(last, silos))
            {
                last = silos.ToDictionary(s => s.Address, s => s.Dead);
                yield return silos;
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    private static bool Changed(Dictionary<SiloAddress, bool> last, ClusterSilo[] silos) =>
        silos.Length != last.Count || silos.Any(s => !last.TryGetValue(s.Address, out var dead) || dead != s.Dead);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2304, Level = LogLevel.Debug, Message = "Reading the cluster's membership failed; the next poll retries")]
        public static partial void PollFailed(ILogger logger, Exception exception);
    }
}

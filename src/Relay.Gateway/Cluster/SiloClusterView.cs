using System.Runtime.CompilerServices;
using Orleans.Runtime;

namespace Relay.Gateway.Cluster;

/// <summary>The cluster as the co-hosted silo's membership service sees it: a snapshot on every change, at once.</summary>
internal sealed class SiloClusterView(IClusterMembershipService membership) : IClusterView
{
    public async IAsyncEnumerable<IReadOnlyList<ClusterSilo>> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
        {
            yield return [.. snapshot.Members.Values.Select(m => new ClusterSilo(m.SiloAddress, m.Name, m.Status == SiloStatus.Dead))];
        }
    }
}

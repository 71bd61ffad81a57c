using Orleans.Runtime;

namespace Relay.Gateway.Cluster;

/// <summary>
/// The silos of the cluster as this node learns of them: a sequence of snapshots, one whenever a silo joins or changes
/// status. A co-hosted node reads its own silo's membership (<see cref="SiloClusterView"/>); a gateway-only node, an
/// Orleans client without one, asks the cluster (<see cref="PolledClusterView"/>).
/// </summary>
internal interface IClusterView
{
    IAsyncEnumerable<IReadOnlyList<ClusterSilo>> WatchAsync(CancellationToken cancellationToken);
}

/// <summary>One silo of a <see cref="IClusterView"/> snapshot. A co-hosted node's silo is named after its gateway.</summary>
internal readonly record struct ClusterSilo(SiloAddress Address, string Name, bool Dead);

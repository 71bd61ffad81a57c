using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Tests that measure latency against a bound: they run alone, after the parallel ones, since tests running
/// beside them in the same process would count in the measurement.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LatencyMeasuringGroup
{
    public const string Name = "measures latency";
}

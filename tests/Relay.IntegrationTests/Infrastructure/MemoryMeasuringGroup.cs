using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Tests that measure the process's managed heap: they run alone, after the parallel ones, since any test
/// running beside them would count in the measurement.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasuringGroup
{
    public const string Name = "measures process memory";
}

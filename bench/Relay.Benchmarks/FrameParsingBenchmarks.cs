using BenchmarkDotNet.Attributes;
using Relay.Protocol;

namespace Relay.Benchmarks;

/// <summary><see cref="FrameParser"/>: one <c>Utf8JsonReader</c> pass over the received bytes. With the connection's
/// name cache (as the gateway parses), the addressing strings are not decoded again, so parsing allocates nothing.</summary>
[MemoryDiagnoser]
public class FrameParsingBenchmarks
{
    private static readonly Func<string, bool> EchoSuppressed = type =>
        ReferenceEquals(type, FrameTypes.Broadcast) || ReferenceEquals(type, FrameTypes.Invoke);

    private readonly Utf8StringCache _names = new();

    [Benchmark]
    public ParsedFrame Direct_1KiB() => FrameParser.Parse(Frames.Direct, EchoSuppressed, _names);

    [Benchmark]
    public ParsedFrame Direct_1KiB_without_name_cache() => FrameParser.Parse(Frames.Direct, EchoSuppressed);

    [Benchmark]
    public ParsedFrame Broadcast_512B_with_echo_hash() => FrameParser.Parse(Frames.Broadcast, EchoSuppressed, _names);
}

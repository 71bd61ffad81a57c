using BenchmarkDotNet.Attributes;
using Relay.Protocol;

namespace Relay.Benchmarks;

/// <summary><see cref="FrameStamper"/>: the original bytes up to the closing brace plus <c>sender</c> and
/// <c>timestamp</c>. For forwarding it writes into a pooled <see cref="OutboundFrame"/> (0 B per frame); the
/// array-returning form, which relay-built frames use, is shown beside it.</summary>
[MemoryDiagnoser]
public class FrameStampingBenchmarks
{
    private const double Now = 1764049300.123;
    private ParsedFrame _direct;

    [GlobalSetup]
    public void Setup() => _direct = FrameParser.Parse(Frames.Direct);

    [Benchmark]
    public int Direct_1KiB_into_pooled_frame()
    {
        var frame = FrameStamper.StampForForwarding(Frames.Direct, _direct, "peer-16", Now, redactor: null);
        var length = frame.Length;
        frame.Release();
        return length;
    }

    [Benchmark]
    public int Direct_1KiB_into_new_array() => FrameStamper.Stamp(Frames.Direct, _direct, "peer-16", Now, redactor: null).Length;
}

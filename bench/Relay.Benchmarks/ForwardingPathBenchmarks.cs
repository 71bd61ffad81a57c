using BenchmarkDotNet.Attributes;
using Relay.Protocol;

namespace Relay.Benchmarks;

/// <summary>
/// One received frame through the gateway's per-frame protocol work, end to end: parse (with the connection's name
/// cache), echo check, addressing, stamp into a pooled frame, one reference per recipient queue taken and given
/// back (as each socket's writer does after its write), the creator's reference released. The socket writes are
/// not included. Allocated: 0 B per frame, whatever the number of recipients.
/// </summary>
[MemoryDiagnoser]
public class ForwardingPathBenchmarks
{
    private const double Now = 1764049300.123;
    private static readonly Func<string, bool> EchoSuppressed = type => ReferenceEquals(type, FrameTypes.Broadcast);

    private readonly Utf8StringCache _names = new();
    private readonly EchoFilter _senderEcho = new(capacity: 128, windowTicks: 10_000_000);
    private readonly EchoFilter[] _recipientEcho = [.. Enumerable.Range(0, 49).Select(_ => new EchoFilter(128, 10_000_000))];
    private readonly OnePeer _mesh = new("peer-17");
    private readonly List<AgentListing<string>> _scratch = [];
    private long _now;

    [Benchmark]
    public int Direct_1KiB_to_one_peer()
    {
        var parsed = FrameParser.Parse(Frames.Direct, EchoSuppressed, _names);
        var route = DirectAddressing.Resolve(_mesh, "peer-16", null, parsed.To, parsed.TargetInstanceId, _scratch);
        var frame = FrameStamper.StampForForwarding(Frames.Direct, parsed, "peer-16", Now, redactor: null);
        frame.AddReference(); // the recipient's queue
        frame.Release(); // the creator, once handed out
        frame.Release(); // the recipient's writer, once written
        return (int)route.Route;
    }

    [Benchmark]
    public int Broadcast_512B_to_49_peers()
    {
        _now++;
        var parsed = FrameParser.Parse(Frames.Broadcast, EchoSuppressed, _names);
        if (_senderEcho.IsEcho(parsed.DataHash, _now)) return 0;
        var frame = FrameStamper.StampForForwarding(Frames.Broadcast, parsed, "peer-16", Now, redactor: null);
        foreach (var echo in _recipientEcho)
        {
            echo.RecordDelivered(parsed.DataHash, _now);
            frame.AddReference();
        }

        frame.Release();
        foreach (var _ in _recipientEcho) frame.Release();
        return frame.Length;
    }

    private sealed class OnePeer(string peerId) : IAgentDirectory<string>
    {
        public bool IsOnlinePeer(string id) => string.Equals(id, peerId, StringComparison.Ordinal);

        public void FindAgentListings(string agent, List<AgentListing<string>> into)
        {
        }
    }
}

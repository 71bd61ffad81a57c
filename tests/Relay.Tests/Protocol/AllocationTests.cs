using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

/// <summary>The hot paths run for every frame (streams reach ~100 frames/s per connection): pin their allocations.</summary>
public class AllocationTests
{
    private static readonly Func<string, bool> HashInvokes = type => ReferenceEquals(type, FrameTypes.Invoke);

    private static long AllocatedBy(Action action)
    {
        action();
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Parsing_a_stream_frame_without_from_allocates_nothing()
    {
        var frame = """{"type":"stream","data":{"delta":"some text \u00e9","index":17},"turnId":"t-1","timestamp":1700000000000}"""u8.ToArray();

        Assert.Equal(0, AllocatedBy(() => FrameParser.Parse(frame, HashInvokes)));
    }

    [Fact]
    public void Hashing_an_invoke_frame_allocates_nothing()
    {
        var frame = """{"type":"invoke","data":{"prompt":"caf\u00e9 \/ long enough to need unescaping","n":[1,2.5,true,null]}}"""u8.ToArray();

        Assert.Equal(0, AllocatedBy(() => FrameParser.Parse(frame, HashInvokes)));
        Assert.NotEqual(0UL, FrameParser.Parse(frame, HashInvokes).DataHash);
    }

    [Fact]
    public void Parsing_allocates_only_the_addressing_strings()
    {
        var frame = """{"type":"direct","from":"p1","to":"chat","data":{}}"""u8.ToArray();
        var strings = AllocatedBy(() => _ = ("p1".AsSpan().ToString(), "chat".AsSpan().ToString()));

        Assert.Equal(strings, AllocatedBy(() => FrameParser.Parse(frame)));
    }

    [Fact]
    public void Parsing_with_the_connections_name_cache_allocates_nothing_once_the_names_are_known()
    {
        var frame = """{"type":"direct","from":"p1","to":"chat","targetInstanceId":"p2","data":{}}"""u8.ToArray();
        var names = new Utf8StringCache();

        Assert.Equal(0, AllocatedBy(() => FrameParser.Parse(frame, null, names)));
        var parsed = FrameParser.Parse(frame, null, names);
        Assert.Equal(("p1", "chat", "p2"), (parsed.From, parsed.To, parsed.TargetInstanceId));
    }

    [Fact]
    public void Stamping_for_forwarding_into_a_pooled_frame_allocates_nothing()
    {
        var frame = """{"type":"direct","from":"p1","to":"p2","data":{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"""u8.ToArray();
        var parsed = FrameParser.Parse(frame);

        Assert.Equal(0, AllocatedBy(() =>
        {
            var stamped = FrameStamper.StampForForwarding(frame, parsed, "p1", 1764049300.123, null);
            stamped.AddReference();
            stamped.Release();
            stamped.Release();
        }));
    }

    [Fact]
    public void Fast_path_stamp_allocates_one_exact_array()
    {
        var frame = """{"type":"stream","from":"p1","data":{"delta":"x"}}"""u8.ToArray();
        var parsed = FrameParser.Parse(frame);
        var stamped = FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, null);
        var oneArray = AllocatedBy(() => _ = new byte[stamped.Length]);

        Assert.Equal(oneArray, AllocatedBy(() => FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, null)));
    }

    [Fact]
    public void Fast_path_stamp_with_a_redactor_that_finds_nothing_allocates_one_array()
    {
        var frame = """{"type":"stream","from":"p1","data":{"delta":"no secret \n here"}}"""u8.ToArray();
        var parsed = FrameParser.Parse(frame);
        var redactor = CredentialRedactor.FromQueryString("?access_token=eyJhbGciOiJSUzI1NiJ9.x.y", null);
        var stamped = FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, redactor);
        var oneArray = AllocatedBy(() => _ = new byte[stamped.Length]);

        Assert.Equal(oneArray, AllocatedBy(() => FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, redactor)));
    }

    [Fact]
    public void Echo_filter_and_token_bucket_allocate_nothing()
    {
        var filter = new EchoFilter(128, 10_000);
        var bucket = new TokenBucket(200, 1000, 0, 1000);
        var now = 0L;

        Assert.Equal(0, AllocatedBy(() =>
        {
            now++;
            filter.RecordDelivered((ulong)now, now);
            filter.IsEcho(3, now);
            bucket.TryTake(now);
        }));
    }
}

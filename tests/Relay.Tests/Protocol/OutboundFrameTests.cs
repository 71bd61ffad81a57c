using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class OutboundFrameTests
{
    [Fact]
    public void Stamping_for_forwarding_gives_the_same_bytes_as_stamping_into_an_array()
    {
        var frame = """{"type":"direct","to":"p2","data":{"x":[1,2,"\u00e9"]}}"""u8.ToArray();
        var parsed = FrameParser.Parse(frame);

        var pooled = FrameStamper.StampForForwarding(frame, parsed, "p1", 1764049300.123, null);

        Assert.Equal(FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, null), pooled.Span.ToArray());
        pooled.Release();
    }

    [Fact]
    public void A_rewritten_frame_is_forwarded_too()
    {
        var frame = """{"type":"direct","to":"p2","sender":"forged","data":{}}"""u8.ToArray();
        var parsed = FrameParser.Parse(frame);

        var pooled = FrameStamper.StampForForwarding(frame, parsed, "p1", 1764049300.123, null);

        Assert.Equal(FrameStamper.Stamp(frame, parsed, "p1", 1764049300.123, null), pooled.Span.ToArray());
        pooled.Release();
    }

    [Fact]
    public void The_bytes_stay_until_the_last_reference_is_released()
    {
        var frame = OutboundFrame.Rent(3);
        "abc"u8.CopyTo(frame.WritableSpan);
        frame.AddReference();
        frame.AddReference();

        frame.Release();
        frame.Release();
        Assert.Equal("abc"u8.ToArray(), frame.Span.ToArray());

        // Not touched afterwards: the object now belongs to the pool, and other tests may be using it.
        frame.Release();
    }

    [Fact]
    public void A_wrapped_array_is_never_given_away()
    {
        var bytes = "{}"u8.ToArray();
        var frame = OutboundFrame.Wrap(bytes);

        frame.Release();
        frame.Release();

        Assert.Equal(bytes, frame.Span.ToArray());
        Assert.Same(bytes, frame.ToArray());
    }

    [Fact]
    public void A_pooled_frame_copies_what_leaves_the_process()
    {
        var frame = OutboundFrame.Rent(2);
        "{}"u8.CopyTo(frame.WritableSpan);

        var copy = frame.ToArray();
        frame.Release();

        Assert.Equal("{}"u8.ToArray(), copy);
    }
}

using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class Utf8StringCacheTests
{
    [Fact]
    public void Each_name_comes_back_as_itself_and_a_known_name_as_the_same_string()
    {
        var names = new Utf8StringCache();
        var first = FrameParser.Parse("""{"type":"direct","from":"me","to":"a"}"""u8, null, names);
        var other = FrameParser.Parse("""{"type":"direct","from":"me","to":"b"}"""u8, null, names);
        var again = FrameParser.Parse("""{"type":"direct","from":"me","to":"a"}"""u8, null, names);

        Assert.Equal(("a", "b", "a"), (first.To, other.To, again.To));
        Assert.Same(first.To, again.To);
        Assert.Same(first.From, other.From);
    }

    [Fact]
    public void Escaped_names_are_decoded_and_never_confused_with_their_raw_bytes()
    {
        var names = new Utf8StringCache();
        var plain = FrameParser.Parse("""{"type":"direct","to":"\\u0041"}"""u8, null, names);
        var escaped = FrameParser.Parse("""{"type":"direct","to":"\u0041"}"""u8, null, names);

        Assert.Equal(@"\u0041", plain.To);
        Assert.Equal("A", escaped.To);
    }

    [Fact]
    public void The_oldest_name_makes_room_and_long_names_are_not_kept()
    {
        var names = new Utf8StringCache();
        for (var i = 0; i <= Utf8StringCache.Capacity; i++) names.Add([(byte)('a' + i)], ((char)('a' + i)).ToString());
        names.Add(new byte[Utf8StringCache.MaxBytes + 1], "long");

        Assert.Null(names.Find("a"u8));
        Assert.Equal("b", names.Find("b"u8));
        Assert.Null(names.Find(new byte[Utf8StringCache.MaxBytes + 1]));
    }
}

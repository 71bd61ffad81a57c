using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class RelayLookalikesTests
{
    [Theory]
    [InlineData("relay")]
    [InlineData("RELAY")]
    [InlineData("rElAy")]
    [InlineData("re\u200blay")]          // zero-width space
    [InlineData("r\u200ce\u200dl\u200fa\u200ey")] // ZWNJ, ZWJ, RLM, LRM
    [InlineData("\u202erelay\u202c")]    // right-to-left override ... pop
    [InlineData("\u202arelay")]          // left-to-right embedding
    [InlineData("\u2066relay\u2069")]    // isolates
    [InlineData("relay\u2060")]          // word joiner
    [InlineData("\ufeffrelay")]          // byte-order mark
    [InlineData("rel\u00aday")]          // soft hyphen
    [InlineData("ｒｅｌａｙ")]           // full width: NFKC folds it to "relay"
    [InlineData("ＲＥＬＡＹ")]
    [InlineData("\U0001D42B\U0001D41E\U0001D425\U0001D41A\U0001D432")] // mathematical bold
    [InlineData("ⓡⓔⓛⓐⓨ")]          // circled
    [InlineData("ʳᵉˡᵃʸ")]              // modifier letters
    [InlineData(" relay\t")]
    [InlineData("relay\u0000")]
    public void Reads_as_relay(string name) => Assert.True(RelayLookalikes.IsRelayLike(name));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relays")]
    [InlineData("relay-bot")]
    [InlineData("my relay")]
    [InlineData("re lay")]
    [InlineData("chat")]
    [InlineData("rélay")]
    [InlineData("\ud800relay")]          // a lone surrogate: refused elsewhere, never "relay"
    public void Does_not_read_as_relay(string? name) => Assert.False(RelayLookalikes.IsRelayLike(name));

    [Fact]
    public void Printable_ascii_names_are_judged_without_allocating()
    {
        const string name = "peer-0123456789";
        RelayLookalikes.IsRelayLike(name);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) RelayLookalikes.IsRelayLike(name);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Theory]
    [InlineData("error", false)]
    [InlineData("capabilities_response", true)]
    [InlineData("Error", false)]
    [InlineData("capabilities", false)]
    [InlineData("relay-log", false)]
    [InlineData("broadcast", false)]
    public void Relay_only_types(string type, bool relayOnly) => Assert.Equal(relayOnly, FrameTypes.IsRelayOnly(type));
}

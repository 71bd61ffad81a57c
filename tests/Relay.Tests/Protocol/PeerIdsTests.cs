using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class PeerIdsTests
{
    [Theory]
    [InlineData("peer-1")]
    [InlineData("a")]
    [InlineData("relay-2")]
    [InlineData("relays")]
    [InlineData("tab é 😀")]
    [InlineData("0123456789")]
    public void Accepts(string id)
    {
        Assert.True(PeerIds.IsValid(id, 10, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData(null, "non-empty")]
    [InlineData("", "non-empty")]
    [InlineData("01234567890", "longer")]
    [InlineData("relay", "reserved")]
    [InlineData("Relay", "reserved")]
    [InlineData("re\u200blay", "reserved")]
    [InlineData("ｒｅｌａｙ", "reserved")]
    [InlineData("a\nb", "control")]
    [InlineData("a\u0000", "control")]
    [InlineData("\u007f", "control")]
    [InlineData("x\u0085", "control")]
    public void Rejects(string? id, string word)
    {
        Assert.False(PeerIds.IsValid(id, 10, out var problem));
        Assert.Contains(word, problem, StringComparison.Ordinal);
    }
}

using System.Text;
using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class UnixTimeTests
{
    private static string Format(double value)
    {
        Span<byte> buffer = stackalloc byte[UnixTime.MaxFormattedLength];
        Assert.True(UnixTime.TryFormat(value, buffer, out var written));
        return Encoding.UTF8.GetString(buffer[..written]);
    }

    [Fact]
    public void Converts_with_millisecond_precision()
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(1764049300123).AddTicks(4567);

        Assert.Equal(1764049300.123, UnixTime.ToUnixSeconds(time));
    }

    [Fact]
    public void Now_reads_the_time_provider()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_000_500));

        Assert.Equal(1000.5, UnixTime.Now(clock));
    }

    [Theory]
    [InlineData(1764049300.123, "1764049300.123")]
    [InlineData(1764049300.0, "1764049300")]
    [InlineData(1764049300.5, "1764049300.5")]
    [InlineData(1764049300.1234, "1764049300.123")]
    [InlineData(0.0, "0")]
    [InlineData(1e20, "100000000000000000000")]
    [InlineData(-12.25, "-12.25")]
    public void Formats_without_exponent(double value, string expected)
    {
        Assert.Equal(expected, Format(value));
    }

    [Fact]
    public void Largest_value_fits_the_documented_length()
    {
        Assert.Equal(309, Format(double.MaxValue).Length);
        Assert.Equal(310, Format(double.MinValue).Length);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Rejects_what_json_cannot_carry(double value)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Format(value));
    }
}

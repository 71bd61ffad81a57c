using System.Globalization;

namespace Relay.Protocol;

/// <summary>
/// Times the relay writes: unix seconds with millisecond precision (e.g. <c>1764049300.123</c>), as
/// relay.py did, never in exponent notation.
/// </summary>
public static class UnixTime
{
    /// <summary>Longest text <see cref="TryFormat"/> can produce (sign, 309 integer digits, point, 3 decimals).</summary>
    public const int MaxFormattedLength = 320;

    public static double ToUnixSeconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Seconds since the epoch, now, per <paramref name="timeProvider"/>.</summary>
    public static double Now(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        return ToUnixSeconds(timeProvider.GetUtcNow());
    }

    /// <summary>Writes <paramref name="unixSeconds"/> as a JSON number rounded to milliseconds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite, which JSON cannot carry.</exception>
    public static bool TryFormat(double unixSeconds, Span<byte> utf8Destination, out int bytesWritten)
    {
        if (!double.IsFinite(unixSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(unixSeconds), unixSeconds, "JSON numbers must be finite.");
        }

        // The custom format rounds to milliseconds and, unlike "R", never switches to exponent notation.
        return unixSeconds.TryFormat(utf8Destination, out bytesWritten, "0.###", CultureInfo.InvariantCulture);
    }
}

namespace Relay.Tests.Grains;

/// <summary>Unix time in seconds with millisecond precision, computed exactly like the grains and gateways do.</summary>
internal static class Unix
{
    public static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}

using Relay.Protocol;

namespace Relay.Tests.Infrastructure;

/// <summary>Unix time in seconds with millisecond precision, computed exactly like the grains and gateways do.</summary>
internal static class Unix
{
    public static double Now() => UnixTime.Now(TimeProvider.System);
}

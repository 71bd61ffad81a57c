using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Relay.Gateway.Connections;

/// <summary>The answer to an upgrade from a client address that connects faster than it may
/// (<see cref="ConnectRateLimiter"/>): HTTP 429 with <c>Retry-After</c>, before anything is accepted. The connection is
/// closed after it, so that the refused client keeps no socket of the node open.</summary>
internal static class TooManyRequests
{
    public static Task WriteAsync(HttpContext context, TimeSpan retryAfter, string reason)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers.Connection = "close";
        return context.Response.WriteAsync(reason);
    }
}

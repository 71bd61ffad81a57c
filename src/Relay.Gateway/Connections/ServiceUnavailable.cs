using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Relay.Gateway.Connections;

/// <summary>The answer to an upgrade this node cannot take now (a limit is reached, or it is draining): HTTP 503 with
/// <c>Retry-After</c>, before anything is accepted, so the client (or a load balancer) tries again later or elsewhere.
/// The connection is closed after it, so that refused clients do not keep a socket of the node open.</summary>
internal static class ServiceUnavailable
{
    public static Task WriteAsync(HttpContext context, TimeSpan retryAfter, string reason) =>
        WriteAsync(context, StatusCodes.Status503ServiceUnavailable, retryAfter, reason);

    /// <summary>The same answer with another status: 429 for a client address that connects faster than it may
    /// (<see cref="ConnectRateLimiter"/>).</summary>
    public static Task WriteAsync(HttpContext context, int status, TimeSpan retryAfter, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.Headers.RetryAfter = Seconds(retryAfter);
        context.Response.Headers.Connection = "close";
        return context.Response.WriteAsync(reason);
    }

    /// <summary>The same answer as bytes, for a connection refused below HTTP (the process has no descriptor to spare
    /// for handing it to Kestrel).</summary>
    public static byte[] Http11Response(TimeSpan retryAfter, string reason) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"HTTP/1.1 503 Service Unavailable\r\nRetry-After: {Seconds(retryAfter)}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {reason.Length}\r\n\r\n{reason}"));

    private static string Seconds(TimeSpan retryAfter) => ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}

using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Relay.Gateway.Endpoints;

/// <summary>The answer to an upgrade this node cannot take now (a limit is reached, or it is draining): HTTP 503 with
/// <c>Retry-After</c>, before anything is accepted, so the client (or a load balancer) tries again later or elsewhere.</summary>
internal static class ServiceUnavailable
{
    public static Task WriteAsync(HttpContext context, TimeSpan retryAfter, string reason)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return context.Response.WriteAsync(reason);
    }
}

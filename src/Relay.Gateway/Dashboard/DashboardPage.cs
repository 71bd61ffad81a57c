using Microsoft.AspNetCore.Http;

namespace Relay.Gateway.Dashboard;

/// <summary>The dashboard's one page (<c>dashboard.html</c>, embedded in the assembly: no build step, no files to
/// deploy, nothing fetched from elsewhere). Its script reads <c>/dashboard/events</c>.</summary>
internal static class DashboardPage
{
    private static readonly Lazy<byte[]> Html = new(() =>
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("Relay.Gateway.Dashboard.dashboard.html")
            ?? throw new InvalidOperationException("dashboard.html is not embedded in Relay.Gateway");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    });

    public static async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        // The page may carry a token in its URL: never send it on, and run nothing but the page's own script.
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.ContentSecurityPolicy =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        await response.Body.WriteAsync(Html.Value, context.RequestAborted);
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Relay.Gateway.Shared;

/// <summary>
/// Reads one parameter of a request's query string as <c>Request.Query[name].FirstOrDefault()</c> does (names
/// compared ignoring case, names and values decoded), without <c>Request.Query</c>: that parses the whole query into
/// a collection the request keeps, and a WebSocket's request lasts as long as the socket (about 0.4 KB a peer,
/// bench/results/2026-12-03-scale-memory.md).
/// </summary>
internal static class QueryParameter
{
    /// <summary>The first value of <paramref name="name"/> in <paramref name="query"/>; null when it is absent.</summary>
    public static string? First(QueryString query, string name)
    {
        foreach (var pair in new QueryStringEnumerable(query.Value))
        {
            if (pair.DecodeName().Span.Equals(name, StringComparison.OrdinalIgnoreCase)) return pair.DecodeValue().ToString();
        }
        return null;
    }
}

using Microsoft.AspNetCore.Http;
using Relay.Gateway.Shared;

namespace Relay.Gateway.Authentication;

/// <summary>Where a client may put its token at the upgrade: <c>Authorization: Bearer</c>, else the
/// <c>access_token</c> query parameter, else <c>token</c> (browsers cannot set headers on a WebSocket).</summary>
internal static class BearerToken
{
    /// <summary>The <c>Authorization: Bearer</c> header's token, if any.</summary>
    public static string? FromHeader(HttpRequest request)
    {
        foreach (var header in request.Headers.Authorization)
        {
            if (header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header[7..].Trim() is { Length: > 0 } token)
            {
                return token;
            }
        }
        return null;
    }

    /// <summary>The token the request brings, from the header or the query; null when it brings none.</summary>
    public static string? FromRequest(HttpRequest request) =>
        FromHeader(request)
        ?? NonEmpty(QueryParameter.First(request.QueryString, "access_token"))
        ?? NonEmpty(QueryParameter.First(request.QueryString, "token"));

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

using Microsoft.AspNetCore.Http;

namespace Relay.Gateway.Authentication;

/// <summary>HTTP answers to a request whose token was refused (RFC 6750): 401 with <c>WWW-Authenticate</c> for a
/// missing or bad token, 403 for a token of another mesh, 503 when the identity provider cannot be reached.
/// The texts are <see cref="TokenCheck.Error"/>'s fixed ones: never the token.</summary>
internal static class HttpChallenge
{
    public const string Realm = "relay";

    /// <summary>401: the request brought no token.</summary>
    public static Task MissingAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"{Realm}\"";
        return context.Response.WriteAsync("a bearer token is required");
    }

    /// <summary>The answer to a token that is not <see cref="TokenStatus.Valid"/>.</summary>
    public static Task RefusedAsync(HttpContext context, TokenCheck check)
    {
        if (check.Status == TokenStatus.Unavailable)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            return context.Response.WriteAsync("the identity provider is unavailable; try again later");
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"{Realm}\", error=\"invalid_token\", error_description=\"{check.Error}\"";
        return context.Response.WriteAsync($"invalid token: {check.Error}");
    }

    /// <summary>403: the token's mesh claim names another mesh than the request.</summary>
    public static Task OtherMeshAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.Headers.WWWAuthenticate =
            $"Bearer realm=\"{Realm}\", error=\"insufficient_scope\", error_description=\"{ConnectionPrincipal.OtherMeshError}\"";
        return context.Response.WriteAsync(ConnectionPrincipal.OtherMeshError);
    }
}

using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Authentication;

/// <summary>
/// Authentication of WebSocket clients with OAuth 2.0 / OIDC JWTs (section <c>Relay:Auth</c>). Off unless
/// <see cref="CustomJwtAuthorizer"/> names a discovery URL. <see cref="CustomJwtAuthorizer"/> has the exact shape of
/// an AWS Bedrock AgentCore <c>customJWTAuthorizer</c> (keys are case-insensitive, so <c>customJWTAuthorizer</c>,
/// <c>discoveryUrl</c>, <c>allowedClients</c> and <c>allowedAudience</c> bind as AgentCore spells them); the other
/// properties are Relay's own.
/// </summary>
public sealed class RelayAuthOptions : IValidatableObject
{
    public const string SectionName = "Relay:Auth";

    /// <summary>The AgentCore authorizer: where the identity provider is and which tokens of it are accepted.</summary>
    [ValidateObjectMembers]
    public CustomJwtAuthorizerOptions CustomJwtAuthorizer { get; set; } = new();

    [Description("tolerance for `exp` / `nbf` against this node's clock (0 to 5 min), also for `OnExpiry`")]
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    [Description("a token claim that names the mesh: used when the URL has no `?mesh=`, a `?mesh=` naming another is refused; unset: meshes come from the URL")]
    [MaxLength(256)]
    public string? MeshClaim { get; set; }

    [Description("time a client without a token at the upgrade has to send its `auth` frame (then close 1008)")]
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan FirstFrameTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Description("what happens to a connection whose token expires: `KeepOpen` (real clients never reconnect), or `Close` (1008), for clients that refresh with `auth` frames")]
    public TokenExpiryPolicy OnExpiry { get; set; } = TokenExpiryPolicy.KeepOpen;

    // At least 2 s: the OpenID Connect configuration manager itself refreshes at most once a second.
    [Description("least time between two signing-key refreshes caused by unknown `kid`s (at least 2 s); tokens with unknown keys in between are refused without asking the provider")]
    [Range(typeof(TimeSpan), "00:00:02", "1.00:00:00")]
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    [Description("periodic refresh of discovery document and keys (at least 5 min)")]
    [Range(typeof(TimeSpan), "00:05:00", "7.00:00:00")]
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromHours(12);

    [Description("timeout of one request to the discovery document or the JWKS")]
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when a discovery URL is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CustomJwtAuthorizer.DiscoveryUrl);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var authorizer = CustomJwtAuthorizer;
        var prefix = SectionName + ":customJWTAuthorizer:";
        if (!Enabled)
        {
            if (authorizer.AllowedClients.Length > 0 || authorizer.AllowedAudience.Length > 0)
            {
                yield return new ValidationResult(
                    $"{prefix}allowedClients and allowedAudience need {prefix}discoveryUrl (auth would otherwise be off).",
                    [nameof(CustomJwtAuthorizer)]);
            }
            yield break;
        }

        if (!Uri.TryCreate(authorizer.DiscoveryUrl, UriKind.Absolute, out var url)
            || !(url.Scheme == Uri.UriSchemeHttps || (url.Scheme == Uri.UriSchemeHttp && url.IsLoopback))
            || !string.IsNullOrEmpty(url.UserInfo))
        {
            yield return new ValidationResult(
                $"{prefix}discoveryUrl must be an absolute https URL (plain http only on loopback, for tests).",
                [nameof(CustomJwtAuthorizer)]);
        }
        if (authorizer.AllowedClients.Any(string.IsNullOrWhiteSpace) || authorizer.AllowedAudience.Any(string.IsNullOrWhiteSpace))
        {
            yield return new ValidationResult($"{prefix}allowedClients and allowedAudience must not contain empty entries.",
                [nameof(CustomJwtAuthorizer)]);
        }
        if (MeshClaim is { } claim && string.IsNullOrWhiteSpace(claim))
        {
            yield return new ValidationResult($"{SectionName}:MeshClaim must not be blank.", [nameof(MeshClaim)]);
        }
    }
}

/// <summary>AgentCore's <c>customJWTAuthorizer</c>, as AgentCore users already write it.</summary>
public sealed class CustomJwtAuthorizerOptions
{
    [Description("the identity provider's OpenID Connect discovery document (https); setting it turns auth on; unset: auth off")]
    [MaxLength(2048)]
    public string? DiscoveryUrl { get; set; }

    [Description("client ids accepted (`client_id`, `azp`, `cid` or `appid` of the token, the first present); empty: any")]
    public string[] AllowedClients { get; set; } = [];

    [Description("audiences accepted (one `aud` value of the token must be listed); empty: any")]
    public string[] AllowedAudience { get; set; } = [];
}

/// <summary>What happens when an open connection's token expires.</summary>
public enum TokenExpiryPolicy
{
    /// <summary>The connection stays open (authentication is checked when it is established and refreshed).</summary>
    KeepOpen,

    /// <summary>The connection is closed with 1008 at expiry, unless an auth frame brought a fresher token.</summary>
    Close,
}

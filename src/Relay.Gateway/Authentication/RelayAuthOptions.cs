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

    /// <summary>Tolerance for <c>exp</c> and <c>nbf</c> against this node's clock. A token counts as valid until
    /// <c>exp</c> plus this, everywhere (also for <see cref="OnExpiry"/>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A claim that, when a token carries it, names the mesh of the connection (a tenant claim, say). The
    /// token's mesh is used when the client gives no <c>?mesh=</c>; a <c>?mesh=</c> naming another mesh is refused.
    /// Tokens without the claim use <c>?mesh=</c> or the default mesh as usual. Null: meshes come from the URL.</summary>
    [MaxLength(256)]
    public string? MeshClaim { get; set; }

    /// <summary>How long a client that brought no token to the upgrade has to send <c>{"type":"auth","token":...}</c>
    /// as its first frame; then the socket is closed with 1008.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan FirstFrameTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>What happens when the token of an open connection expires. <see cref="TokenExpiryPolicy.KeepOpen"/>
    /// (default): nothing, since real clients never reconnect (and AgentCore's presigned URLs live 300 s).
    /// <see cref="TokenExpiryPolicy.Close"/>: close 1008 at expiry, for clients that refresh with auth frames.</summary>
    public TokenExpiryPolicy OnExpiry { get; set; } = TokenExpiryPolicy.KeepOpen;

    /// <summary>Least time between two refreshes of the signing keys caused by a token whose <c>kid</c> is unknown
    /// (key rotation). Tokens with unknown keys in between are refused without contacting the provider. At least 2 s
    /// (the OpenID Connect configuration manager itself refreshes at most once a second).</summary>
    [Range(typeof(TimeSpan), "00:00:02", "1.00:00:00")]
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the discovery document and signing keys are refreshed anyway.</summary>
    [Range(typeof(TimeSpan), "00:05:00", "7.00:00:00")]
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Timeout of one request to the discovery document or the JWKS.</summary>
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
    /// <summary>The provider's OpenID Connect discovery document, e.g.
    /// <c>https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf/.well-known/openid-configuration</c>. Its
    /// <c>issuer</c> must be the token's <c>iss</c>, its <c>jwks_uri</c> holds the signing keys.</summary>
    [MaxLength(2048)]
    public string? DiscoveryUrl { get; set; }

    /// <summary>When not empty: the token's client id (<c>client_id</c>, <c>azp</c>, <c>cid</c> or <c>appid</c>,
    /// the first present) must be one of these.</summary>
    public string[] AllowedClients { get; set; } = [];

    /// <summary>When not empty: one of the token's <c>aud</c> values must be one of these.</summary>
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

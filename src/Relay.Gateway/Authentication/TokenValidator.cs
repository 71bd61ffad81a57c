using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Relay.Grains.Contracts;

namespace Relay.Gateway.Authentication;

/// <summary>
/// Validates a JWT against the configured identity provider with <see cref="JsonWebTokenHandler"/>: issuer from the
/// discovery document; signature by one of its JWKS keys with an asymmetric algorithm (RS/PS/ES 256-512: RS256,
/// ES256 and those the provider advertises; never <c>none</c>, never HMAC, so a public key can never serve as an HMAC
/// secret); <c>exp</c> required and <c>exp</c>/<c>nbf</c> within <see cref="RelayAuthOptions.ClockSkew"/>; audience in
/// <c>allowedAudience</c> and client id in <c>allowedClients</c> when those are set. Nothing here ever puts the token,
/// or a claim of it, into a log line or an error text.
/// </summary>
internal sealed partial class TokenValidator
{
    /// <summary>Largest token accepted (bytes of its compact form).</summary>
    public const int MaxTokenLength = 64 * 1024;

    private static readonly string[] AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <summary>Accepted whatever the discovery document advertises (its list is about ID tokens).</summary>
    private static readonly string[] BaselineAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    /// <summary>Client id claims, in the order looked at: Cognito and RFC 9068 (<c>client_id</c>), OIDC and Entra ID
    /// v2 (<c>azp</c>), Okta (<c>cid</c>), Entra ID v1 (<c>appid</c>).</summary>
    private static readonly string[] ClientIdClaims = ["client_id", "azp", "cid", "appid"];

    private readonly OidcMetadata _metadata;
    private readonly RelayAuthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TokenValidator> _logger;
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenLength };
    private readonly HashSet<string> _allowedClients;
    private volatile CachedParameters? _cached;

    public TokenValidator(OidcMetadata metadata, IOptions<RelayAuthOptions> options, TimeProvider time, ILogger<TokenValidator> logger)
    {
        _metadata = metadata;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _allowedClients = new HashSet<string>(_options.CustomJwtAuthorizer.AllowedClients, StringComparer.Ordinal);
    }

    /// <summary>Auth is configured: every connection must authenticate.</summary>
    public bool Enabled => _options.Enabled;

    public RelayAuthOptions Options => _options;

    public async ValueTask<TokenCheck> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        var check = await CheckAsync(token, cancellationToken).ConfigureAwait(false);
        if (check.Status != TokenStatus.Valid) Log.Refused(_logger, check.Error!);
        return check;
    }

    private async ValueTask<TokenCheck> CheckAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength) return TokenCheck.Invalid("malformed token");
        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenException)
        {
            return TokenCheck.Invalid("malformed token");
        }
        if (jwt.IsEncrypted) return TokenCheck.Invalid("encrypted tokens are not supported");
        // RFC 7515 4.1.11: a recipient must refuse a token whose crit names an extension it does not understand, and
        // Relay understands none (IdentityModel does not look at crit).
        if (jwt.TryGetHeaderValue<object>("crit", out _)) return TokenCheck.Invalid("unsupported critical header");
        if (string.IsNullOrEmpty(jwt.Alg) || string.Equals(jwt.Alg, SecurityAlgorithms.None, StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(jwt.EncodedSignature))
        {
            return TokenCheck.Invalid("unsigned token");
        }

        var configuration = await _metadata.GetAsync(cancellationToken).ConfigureAwait(false);
        if (configuration is null) return TokenCheck.Unavailable();
        var parameters = ParametersFor(configuration);
        if (!parameters.ValidAlgorithms.Contains(jwt.Alg, StringComparer.Ordinal)) return TokenCheck.Invalid("signing algorithm not allowed");

        if (!string.IsNullOrEmpty(jwt.Kid) && !HasKey(parameters, jwt.Kid))
        {
            configuration = await _metadata.RefreshForUnknownKeyAsync(configuration, cancellationToken).ConfigureAwait(false);
            parameters = ParametersFor(configuration);
            if (!HasKey(parameters, jwt.Kid)) return TokenCheck.Invalid("unknown signing key");
        }

        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(jwt, parameters).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return TokenCheck.Invalid(Describe(ex));
        }
        if (!result.IsValid) return TokenCheck.Invalid(Describe(result.Exception));

        var clientId = FirstString(jwt, ClientIdClaims);
        if (_allowedClients.Count > 0 && (clientId is null || !_allowedClients.Contains(clientId))) return TokenCheck.Invalid("client not allowed");
        var subject = string.IsNullOrEmpty(jwt.Subject) ? null : jwt.Subject;
        if (subject is null && clientId is null) return TokenCheck.Invalid("token names no subject");

        string? mesh = null;
        if (_options.MeshClaim is { } meshClaim && jwt.TryGetClaim(meshClaim, out _))
        {
            if (!jwt.TryGetPayloadValue<string>(meshClaim, out mesh) || !GrainKeys.IsValidMesh(mesh)) return TokenCheck.Invalid("mesh claim is not a valid mesh name");
        }
        var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
        return TokenCheck.Valid(new ConnectionPrincipal(jwt.Issuer, subject, clientId, expires, mesh));
    }

    /// <summary>Keys Relay verifies signatures with: RSA and EC keys only (a symmetric key in a JWKS is ignored).</summary>
    public static bool IsAsymmetric(SecurityKey key) => key switch
    {
        JsonWebKey jwk => jwk.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve,
        AsymmetricSecurityKey => true,
        _ => false,
    };

    private TokenValidationParameters ParametersFor(OpenIdConnectConfiguration configuration)
    {
        if (_cached is { } cached && ReferenceEquals(cached.Configuration, configuration)) return cached.Parameters;


        var advertised = configuration.IdTokenSigningAlgValuesSupported;
        var audiences = _options.CustomJwtAuthorizer.AllowedAudience;
        var parameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = configuration.Issuer,
            IssuerSigningKeys = configuration.SigningKeys.Where(IsAsymmetric).ToArray(),
            // Trust in the keys comes from fetching the JWKS over TLS from the configured provider; certificates some
            // providers attach (x5c) are not checked for expiry, as providers keep publishing keys in old ones.
            ValidateIssuerSigningKey = false,
            TryAllIssuerSigningKeys = true,
            RequireSignedTokens = true,
            ValidAlgorithms = AsymmetricAlgorithms.Where(a => BaselineAlgorithms.Contains(a) || advertised.Contains(a)).ToArray(),
            ValidateAudience = audiences.Length > 0,
            ValidAudiences = audiences,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = _options.ClockSkew,
            LifetimeValidator = ValidateLifetime,
            ValidateTokenReplay = false,
            SaveSigninToken = false,
            LogValidationExceptions = false,
            LogTokenId = false,
        };
        _cached = new CachedParameters(configuration, parameters);
        return parameters;
    }

    /// <summary><c>exp</c> (required) and <c>nbf</c> against the injected clock, with the configured skew.</summary>
    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        if (expires is not { } exp) throw new SecurityTokenNoExpirationException("token has no expiry");
        if (notBefore is { } nbf && nbf > exp) throw new SecurityTokenInvalidLifetimeException("nbf after exp") { NotBefore = nbf, Expires = exp };
        if (notBefore is { } early && early > now + parameters.ClockSkew) throw new SecurityTokenNotYetValidException("token not yet valid") { NotBefore = early };
        if (exp < now - parameters.ClockSkew) throw new SecurityTokenExpiredException("token expired") { Expires = exp };
        return true;
    }

    private static bool HasKey(TokenValidationParameters parameters, string kid) =>
        parameters.IssuerSigningKeys.Any(key => string.Equals(key.KeyId, kid, StringComparison.Ordinal));

    private static string? FirstString(JsonWebToken jwt, string[] claims)
    {
        foreach (var claim in claims)
        {
            if (jwt.TryGetPayloadValue<string>(claim, out var value) && !string.IsNullOrEmpty(value)) return value;
        }
        return null;
    }

    /// <summary>A fixed text per failure kind; IdentityModel's own messages may quote token contents.</summary>
    private static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenNoExpirationException => "token has no expiry",
        SecurityTokenInvalidLifetimeException => "invalid token lifetime",
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenInvalidAudienceException => "audience not allowed",
        SecurityTokenInvalidAlgorithmException => "signing algorithm not allowed",
        SecurityTokenSignatureKeyNotFoundException => "unknown signing key",
        SecurityTokenInvalidSignatureException => "invalid signature",
        SecurityTokenMalformedException => "malformed token",
        _ => "invalid token",
    };

    private sealed record CachedParameters(OpenIdConnectConfiguration Configuration, TokenValidationParameters Parameters);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1411, Level = LogLevel.Debug, Message = "Token refused: {Reason}")]
        public static partial void Refused(ILogger logger, string reason);
    }
}

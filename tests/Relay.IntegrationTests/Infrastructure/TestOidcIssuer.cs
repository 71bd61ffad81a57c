using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A real OpenID Connect issuer for the tests: a small Kestrel app on 127.0.0.1 serving
/// <c>/.well-known/openid-configuration</c> and the JWKS it names, signing tokens with test RSA and EC keys. It counts
/// the requests it serves, can publish another key set (rotation) and can be taken "down" (503 on both documents).
/// </summary>
public sealed class TestOidcIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile TestSigningKey[] _published;
    private int _discoveryRequests;
    private int _jwksRequests;
    private readonly ConcurrentBag<string> _minted = [];

    private TestOidcIssuer(WebApplication app, string issuer, TestSigningKey rsa, TestSigningKey ec)
    {
        _app = app;
        Issuer = issuer;
        Rsa = rsa;
        Ec = ec;
        _published = [rsa, ec];
    }

    /// <summary>e.g. http://127.0.0.1:41234 (also the <c>iss</c> of its tokens).</summary>
    public string Issuer { get; }

    public string DiscoveryUrl => Issuer + "/.well-known/openid-configuration";

    /// <summary>RS256 key, kid "rsa-1": the default signing key.</summary>
    public TestSigningKey Rsa { get; }

    /// <summary>ES256 key (P-256), kid "ec-1".</summary>
    public TestSigningKey Ec { get; }

    /// <summary>False: both documents answer 503 (the provider is down).</summary>
    public bool Available { get; set; } = true;

    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Every token this issuer minted (to prove none of them reaches a log line).</summary>
    public IReadOnlyCollection<string> Minted => _minted;

    public static async Task<TestOidcIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        TestOidcIssuer? issuer = null;
        app.MapGet("/.well-known/openid-configuration", (HttpContext context) => issuer!.ServeAsync(context, discovery: true));
        app.MapGet("/jwks", (HttpContext context) => issuer!.ServeAsync(context, discovery: false));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        issuer = new TestOidcIssuer(app, address, TestSigningKey.CreateRsa("rsa-1"), TestSigningKey.CreateEc("ec-1"));
        return issuer;
    }

    /// <summary>The keys the JWKS serves from now on (rotation).</summary>
    public void Publish(params TestSigningKey[] keys) => _published = keys;

    /// <summary>A signed token; <paramref name="spec"/> says what differs from a valid default.</summary>
    public string Token(TokenSpec? spec = null)
    {
        spec ??= new TokenSpec();
        var now = DateTimeOffset.UtcNow;
        var claims = new Dictionary<string, object>(StringComparer.Ordinal);
        if (spec.Subject is not null) claims["sub"] = spec.Subject;
        if (spec.ClientId is not null) claims[spec.ClientIdClaim] = spec.ClientId;
        if (spec.Audience is { Length: 1 }) claims["aud"] = spec.Audience[0];
        else if (spec.Audience is { Length: > 1 }) claims["aud"] = spec.Audience;
        foreach (var (name, value) in spec.Claims ?? new Dictionary<string, object>()) claims[name] = value;
        var key = spec.Key ?? Rsa;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = spec.Issuer ?? Issuer,
            Claims = claims,
            IssuedAt = (now + (spec.NotBefore ?? TimeSpan.Zero)).UtcDateTime,
            NotBefore = (now + (spec.NotBefore ?? TimeSpan.Zero)).UtcDateTime,
            Expires = spec.Lifetime is { } lifetime ? (now + lifetime).UtcDateTime : null,
            SigningCredentials = new SigningCredentials(key.Private, key.Algorithm),
            AdditionalHeaderClaims = spec.Headers is null ? null : new Dictionary<string, object>(spec.Headers),
        };
        if (spec.NotBefore is null && spec.Lifetime is { } l && l < TimeSpan.Zero)
        {
            // An expired token: it was valid once, a little before it expired.
            descriptor.IssuedAt = descriptor.NotBefore = (now + l - TimeSpan.FromMinutes(5)).UtcDateTime;
        }
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var token = handler.CreateToken(descriptor);
        _minted.Add(token);
        return token;
    }

    /// <summary>A token with <c>alg: none</c> and no signature, claims as <see cref="Token"/> would make them.</summary>
    public string UnsignedToken(TokenSpec? spec = null)
    {
        var signed = Token(spec);
        var payload = signed.Split('.')[1];
        var token = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""") + "." + payload + ".";
        _minted.Add(token);
        return token;
    }

    /// <summary>The classic algorithm confusion: HS256, with the RSA key's kid, "signed" with the RSA public key
    /// (its JWK modulus, its DER SubjectPublicKeyInfo or its PEM text) as the HMAC secret.</summary>
    public IEnumerable<string> HmacWithPublicKeyTokens(TokenSpec? spec = null)
    {
        var payload = Token(spec).Split('.')[1];
        var header = Base64UrlEncoder.Encode($$"""{"alg":"HS256","typ":"JWT","kid":"{{Rsa.Kid}}"}""");
        var publicKey = Rsa.RsaKey!;
        byte[][] secrets =
        [
            publicKey.ExportParameters(false).Modulus!,
            publicKey.ExportSubjectPublicKeyInfo(),
            Encoding.ASCII.GetBytes(publicKey.ExportSubjectPublicKeyInfoPem()),
            Encoding.UTF8.GetBytes(Rsa.JwkJson()),
        ];
        foreach (var secret in secrets)
        {
            var signingInput = header + "." + payload;
            var signature = HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput));
            var token = signingInput + "." + Base64UrlEncoder.Encode(signature);
            _minted.Add(token);
            yield return token;
        }
    }

    private async Task ServeAsync(HttpContext context, bool discovery)
    {
        if (discovery) Interlocked.Increment(ref _discoveryRequests);
        else Interlocked.Increment(ref _jwksRequests);
        if (!Available)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }
        context.Response.ContentType = "application/json";
        if (discovery)
        {
            await context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["issuer"] = Issuer,
                ["jwks_uri"] = Issuer + "/jwks",
                ["authorization_endpoint"] = Issuer + "/authorize",
                ["token_endpoint"] = Issuer + "/token",
                ["response_types_supported"] = new[] { "code" },
                ["subject_types_supported"] = new[] { "public" },
                ["id_token_signing_alg_values_supported"] = new[] { "RS256", "ES256" },
            }));
            return;
        }
        await context.Response.WriteAsync("{\"keys\":[" + string.Join(",", _published.Select(k => k.JwkJson())) + "]}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>What a test token carries; the defaults make a token the test relays accept.</summary>
public sealed record TokenSpec
{
    public string? Subject { get; init; } = "alice";

    public string? ClientId { get; init; } = "relay-client";

    /// <summary>Where the client id goes: client_id (Cognito), azp (OIDC, Entra ID v2), cid (Okta), appid (Entra ID v1).</summary>
    public string ClientIdClaim { get; init; } = "client_id";

    public string[]? Audience { get; init; } = ["relay-api"];

    /// <summary>Null: the issuer's own.</summary>
    public string? Issuer { get; init; }

    /// <summary>exp = now + this (negative: already expired); null: no exp at all.</summary>
    public TimeSpan? Lifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>nbf = now + this.</summary>
    public TimeSpan? NotBefore { get; init; }

    /// <summary>Null: the issuer's RSA key.</summary>
    public TestSigningKey? Key { get; init; }

    public IReadOnlyDictionary<string, object>? Claims { get; init; }

    /// <summary>Further JOSE header parameters (e.g. <c>crit</c>), signed with the token.</summary>
    public IReadOnlyDictionary<string, object>? Headers { get; init; }
}

/// <summary>A test signing key: its private half signs, its public half is what a JWKS publishes.</summary>
public sealed class TestSigningKey
{
    private TestSigningKey(string kid, string algorithm, SecurityKey privateKey, string jwk, RSA? rsa)
    {
        Kid = kid;
        Algorithm = algorithm;
        Private = privateKey;
        _jwk = jwk;
        RsaKey = rsa;
    }

    private readonly string _jwk;

    public string Kid { get; }

    public string Algorithm { get; }

    public SecurityKey Private { get; }

    public RSA? RsaKey { get; }

    public string JwkJson() => _jwk;

    public static TestSigningKey CreateRsa(string kid)
    {
        var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(false);
        var jwk = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["kty"] = "RSA",
            ["use"] = "sig",
            ["alg"] = "RS256",
            ["kid"] = kid,
            ["n"] = Base64UrlEncoder.Encode(parameters.Modulus),
            ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
        });
        return new TestSigningKey(kid, SecurityAlgorithms.RsaSha256, new RsaSecurityKey(rsa) { KeyId = kid }, jwk, rsa);
    }

    public static TestSigningKey CreateEc(string kid)
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = ec.ExportParameters(false);
        var jwk = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["kty"] = "EC",
            ["use"] = "sig",
            ["alg"] = "ES256",
            ["kid"] = kid,
            ["crv"] = "P-256",
            ["x"] = Base64UrlEncoder.Encode(parameters.Q.X),
            ["y"] = Base64UrlEncoder.Encode(parameters.Q.Y),
        });
        return new TestSigningKey(kid, SecurityAlgorithms.EcdsaSha256, new ECDsaSecurityKey(ec) { KeyId = kid }, jwk, null);
    }
}

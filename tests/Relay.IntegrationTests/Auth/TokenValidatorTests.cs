using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Authentication;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>The token validator on its own, against the test issuer, with an injected clock: lifetime and skew
/// decided deterministically, and what a valid token binds to its connection.</summary>
public sealed class TokenValidatorTests : IAsyncLifetime
{
    private TestOidcIssuer _issuer = null!;

    public async Task InitializeAsync() => _issuer = await TestOidcIssuer.StartAsync();

    public async Task DisposeAsync() => await _issuer.DisposeAsync();

    [Theory]
    [InlineData(-20, 30, true)]   // expired 20 s ago, 30 s skew: still valid
    [InlineData(-20, 0, false)]   // no skew: expired
    [InlineData(-40, 30, false)]  // beyond the skew
    [InlineData(20, 0, true)]
    public async Task Expiry_is_checked_against_the_injected_clock_with_the_skew(int expiresInSeconds, int skewSeconds, bool valid)
    {
        var now = DateTimeOffset.UtcNow;
        var token = _issuer.Token(new TokenSpec { Lifetime = TimeSpan.FromSeconds(expiresInSeconds + 600), NotBefore = TimeSpan.FromMinutes(-10) });
        // The clock stands 600 s after "now": the token's exp is expiresInSeconds away from it.
        var clock = new FakeTimeProvider(now.AddSeconds(600));
        using var validator = Validator(clock, TimeSpan.FromSeconds(skewSeconds));
        var check = await validator.Value.ValidateAsync(token, CancellationToken.None);
        Assert.Equal(valid ? TokenStatus.Valid : TokenStatus.Invalid, check.Status);
        if (!valid) Assert.Equal("token expired", check.Error);
    }

    [Theory]
    [InlineData(20, 30, true)]    // nbf 20 s ahead, 30 s skew
    [InlineData(20, 0, false)]
    public async Task Not_before_is_checked_with_the_skew(int notBeforeInSeconds, int skewSeconds, bool valid)
    {
        var now = DateTimeOffset.UtcNow;
        var token = _issuer.Token(new TokenSpec { NotBefore = TimeSpan.FromSeconds(notBeforeInSeconds), Lifetime = TimeSpan.FromMinutes(10) });
        var clock = new FakeTimeProvider(now);
        using var validator = Validator(clock, TimeSpan.FromSeconds(skewSeconds));
        var check = await validator.Value.ValidateAsync(token, CancellationToken.None);
        Assert.Equal(valid ? TokenStatus.Valid : TokenStatus.Invalid, check.Status);
        if (!valid) Assert.Equal("token not yet valid", check.Error);
    }

    [Fact]
    public async Task A_valid_token_binds_subject_client_and_expiry()
    {
        using var validator = Validator(TimeProvider.System, TimeSpan.Zero);
        var check = await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = "alice", ClientIdClaim = "cid", ClientId = "okta-app" }), default);
        Assert.Equal(TokenStatus.Valid, check.Status);
        var principal = check.Principal!;
        Assert.Equal((_issuer.Issuer, "alice", "okta-app"), (principal.Issuer, principal.Subject, principal.ClientId));
        Assert.InRange(principal.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(9), DateTimeOffset.UtcNow.AddMinutes(11));

        // A client-credentials token without sub: the principal is its client id alone.
        check = await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = null }), default);
        Assert.Equal(TokenStatus.Valid, check.Status);
        Assert.Null(check.Principal!.Subject);
        Assert.Equal("relay-client", check.Principal.ClientId);
        Assert.False(check.Principal.IsSameIdentity(principal));
    }

    [Fact]
    public async Task A_token_without_sub_is_not_the_user_whose_sub_is_its_client_id()
    {
        // A user who may pick their own sub (or a provider reusing ids) must not own what the client itself owns.
        using var validator = Validator(TimeProvider.System, TimeSpan.Zero);
        var client = (await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = null, ClientId = "relay-client" }), default)).Principal!;
        var user = (await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = "relay-client", ClientId = "relay-client" }), default)).Principal!;

        Assert.False(client.IsSameIdentity(user));
        Assert.NotEqual(client.Key, user.Key);
        Assert.True(client.IsSameIdentity((await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = null }), default)).Principal!));
    }

    [Fact]
    public async Task A_token_without_sub_or_client_id_is_refused()
    {
        using var validator = Validator(TimeProvider.System, TimeSpan.Zero);
        var check = await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Subject = null, ClientId = null }), default);
        Assert.Equal(TokenStatus.Invalid, check.Status);
    }

    [Theory]
    [InlineData("""["exp-unknown"]""")]
    [InlineData("""["b64"]""")]
    [InlineData("""[]""")]
    public async Task A_crit_header_is_refused_since_no_extension_is_understood(string crit)
    {
        using var validator = Validator(TimeProvider.System, TimeSpan.Zero);
        var names = System.Text.Json.JsonSerializer.Deserialize<string[]>(crit)!;
        var headers = new Dictionary<string, object> { ["crit"] = names };
        foreach (var name in names) headers[name] = false;
        var check = await validator.Value.ValidateAsync(_issuer.Token(new TokenSpec { Headers = headers }), default);

        Assert.Equal(TokenStatus.Invalid, check.Status);
        Assert.Equal("unsupported critical header", check.Error);
        Assert.Equal(TokenStatus.Valid, (await validator.Value.ValidateAsync(_issuer.Token(), default)).Status);
    }

    [Fact]
    public async Task Principals_differ_by_subject_and_by_client()
    {
        using var validator = Validator(TimeProvider.System, TimeSpan.Zero);
        async Task<ConnectionPrincipal> Of(TokenSpec spec) => (await validator.Value.ValidateAsync(_issuer.Token(spec), default)).Principal!;
        var alice = await Of(new TokenSpec());
        Assert.True(alice.IsSameIdentity(await Of(new TokenSpec { Key = _issuer.Ec, Lifetime = TimeSpan.FromHours(1) })));
        Assert.False(alice.IsSameIdentity(await Of(new TokenSpec { Subject = "bob" })));
        Assert.False(alice.IsSameIdentity(await Of(new TokenSpec { ClientId = "okta-app" })));
    }

    private Disposable<TokenValidator> Validator(TimeProvider clock, TimeSpan skew)
    {
        var options = Options.Create(new RelayAuthOptions
        {
            CustomJwtAuthorizer = new CustomJwtAuthorizerOptions
            {
                DiscoveryUrl = _issuer.DiscoveryUrl,
                AllowedClients = AuthFixture.AllowedClients,
                AllowedAudience = AuthFixture.AllowedAudience,
            },
            ClockSkew = skew,
        });
        var metadata = new OidcMetadata(options, clock, NullLogger<OidcMetadata>.Instance);
        return new Disposable<TokenValidator>(new TokenValidator(metadata, options, clock, NullLogger<TokenValidator>.Instance), metadata);
    }

    private sealed class Disposable<T>(T value, IDisposable owner) : IDisposable
    {
        public T Value { get; } = value;

        public void Dispose() => owner.Dispose();
    }
}

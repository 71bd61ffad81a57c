using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Gateway.Authentication;
using Relay.Gateway.Hosting;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>Configuration: AgentCore's customJWTAuthorizer as it is (file, appsettings.json, environment variables),
/// Relay's own settings, and start-up validation that refuses anything it would not enforce.</summary>
public class AuthConfigurationTests
{
    [Fact]
    public void The_agentcore_file_maps_onto_relay_auth()
    {
        var path = AgentCoreFile.WriteText("""
            {"authorizerConfiguration":{"customJWTAuthorizer":{
              "discoveryUrl":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/openid-configuration",
              "allowedClients":["a","b"],"allowedAudience":["api"]}}}
            """);
        var options = Bind(new ConfigurationBuilder().AddInMemoryCollection(AgentCoreAuthorizerFile.Read(path)).Build());
        Assert.True(options.Enabled);
        Assert.Equal("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/openid-configuration", options.CustomJwtAuthorizer.DiscoveryUrl);
        Assert.Equal(["a", "b"], options.CustomJwtAuthorizer.AllowedClients);
        Assert.Equal(["api"], options.CustomJwtAuthorizer.AllowedAudience);
    }

    [Theory]
    [InlineData("""{"customJWTAuthorizer":{"discoveryUrl":"https://x/.well-known/openid-configuration"}}""", "authorizerConfiguration")]
    [InlineData("""{"authorizerConfiguration":{"customJWTAuthorizer":{"discoveryUrl":"https://x/o","allowedScopes":["a"]}}}""", "allowedScopes is not supported")]
    [InlineData("""{"authorizerConfiguration":{"customJWTAuthorizer":{"allowedClients":["a"]}}}""", "discoveryUrl is missing")]
    [InlineData("""{"authorizerConfiguration":{"customJWTAuthorizer":{"discoveryUrl":"https://x/o","allowedClients":"a"}}}""", "array of strings")]
    [InlineData("""{"authorizerConfiguration":{"customJWTAuthorizer":{"discoveryUrl":"https://x/o"}},"other":1}""", "may only contain")]
    [InlineData("""{"authorizerConfiguration":""", "not valid JSON")]
    public void Anything_but_the_agentcore_form_is_refused(string json, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => AgentCoreAuthorizerFile.Read(AgentCoreFile.WriteText(json)));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_file_and_the_configuration_section_cannot_both_configure_the_authorizer()
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["authorizer-config"] = AgentCoreFile.Write("https://x/.well-known/openid-configuration", ["a"], []),
            ["Relay:Auth:customJWTAuthorizer:allowedClients:0"] = "b",
        });
        var error = Assert.Throws<InvalidOperationException>(() => configuration.AddAgentCoreAuthorizerFile());
        Assert.Contains("use one of them", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variable_shape_binds_with_agentcore_spelling()
    {
        var options = Bind(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            // What Relay__Auth__customJWTAuthorizer__discoveryUrl and friends become.
            ["Relay:Auth:customJWTAuthorizer:discoveryUrl"] = "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration",
            ["Relay:Auth:customJWTAuthorizer:allowedClients:0"] = "app",
            ["Relay:Auth:ClockSkew"] = "00:00:10",
            ["Relay:Auth:OnExpiry"] = "Close",
            ["Relay:Auth:MeshClaim"] = "tenant",
            ["Relay:Auth:FirstFrameTimeout"] = "00:00:05",
        }).Build());
        Assert.Equal(["app"], options.CustomJwtAuthorizer.AllowedClients);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ClockSkew);
        Assert.Equal(TokenExpiryPolicy.Close, options.OnExpiry);
        Assert.Equal("tenant", options.MeshClaim);
        Assert.Equal(TimeSpan.FromSeconds(5), options.FirstFrameTimeout);
    }

    [Fact]
    public void Auth_is_off_by_default()
    {
        var options = Bind(new ConfigurationBuilder().Build());
        Assert.False(options.Enabled);
    }

    [Theory]
    [InlineData("http://idp.example.com/.well-known/openid-configuration", false)]
    [InlineData("http://10.0.0.5/.well-known/openid-configuration", false)]
    [InlineData("ftp://idp.example.com/x", false)]
    [InlineData("/relative/openid-configuration", false)]
    [InlineData("https://user:pw@idp.example.com/.well-known/openid-configuration", false)]
    [InlineData("https://idp.example.com/.well-known/openid-configuration", true)]
    [InlineData("http://127.0.0.1:5000/.well-known/openid-configuration", true)]
    [InlineData("http://localhost:5000/.well-known/openid-configuration", true)]
    [InlineData("http://[::1]:5000/.well-known/openid-configuration", true)]
    public void Discovery_url_must_be_https_except_on_loopback(string url, bool valid)
    {
        var configuration = Config(("Relay:Auth:customJWTAuthorizer:discoveryUrl", url));
        if (valid)
        {
            Assert.True(Bind(configuration).Enabled);
        }
        else
        {
            var error = Assert.Throws<OptionsValidationException>(() => Bind(configuration));
            Assert.Contains("https", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Relay:Auth:customJWTAuthorizer:allowedClients:0", "a", false)] // a rule without an authorizer
    [InlineData("Relay:Auth:ClockSkew", "01:00:00", true)]                      // far too lenient
    [InlineData("Relay:Auth:FirstFrameTimeout", "00:00:00", true)]
    [InlineData("Relay:Auth:KeyRefreshInterval", "00:00:00.100", true)]         // would let random kids hammer the provider
    [InlineData("Relay:Auth:customJWTAuthorizer:allowedClients:0", " ", true)]
    [InlineData("Relay:Auth:customJWTAuthorizer:allowedScopes:0", "a", true)]   // not enforced, so refused
    [InlineData("Relay:Auth:OnExpiry", "Sometimes", true)]
    public void Settings_relay_would_not_enforce_stop_the_start(string key, string value, bool withDiscoveryUrl)
    {
        var configuration = withDiscoveryUrl
            ? Config(("Relay:Auth:customJWTAuthorizer:discoveryUrl", "https://idp.example.com/.well-known/openid-configuration"), (key, value))
            : Config((key, value));
        Assert.ThrowsAny<Exception>(() => Bind(configuration));
    }

    [Fact]
    public async Task A_relay_with_an_invalid_authorizer_does_not_start()
    {
        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() =>
            AuthRelay.StartAsync("--Relay:Auth:customJWTAuthorizer:discoveryUrl=http://idp.example.com/.well-known/openid-configuration"));
        Assert.Contains("https", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Config(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();

    private static RelayAuthOptions Bind(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRelayAuthentication(configuration);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<RelayAuthOptions>>().Value;
    }
}

using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A test issuer and a relay configured the AgentCore way (<c>--authorizer-config</c> file: allowed clients and
/// audience), with Relay's own settings: no clock skew (short-lived test tokens expire when they say), a 3 s
/// first-frame timeout, a 2 s grace for a departed peer id's principal binding (<see cref="PeerIdGracePeriod"/>), and
/// the default expiry policy (keep open). Shared by the auth test classes that do not
/// change the issuer's keys or availability; each test uses its own mesh and peer ids.
/// </summary>
public sealed class AuthFixture : IAsyncLifetime
{
    public static readonly string[] AllowedClients = ["relay-client", "okta-app", "entra-app", "spa-app"];
    public static readonly string[] AllowedAudience = ["relay-api"];

    public static readonly TimeSpan PeerIdGracePeriod = TimeSpan.FromSeconds(2);

    public TestOidcIssuer Issuer { get; private set; } = null!;

    public AuthRelay Relay { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Issuer = await TestOidcIssuer.StartAsync();
        Relay = await AuthRelay.StartAgentCoreAsync(Issuer, AllowedClients, AllowedAudience,
            "Relay:Auth:ClockSkew=00:00:00", "Relay:Auth:FirstFrameTimeout=00:00:03", $"Relay:PeerIdGracePeriod={PeerIdGracePeriod:c}");
    }

    public async Task DisposeAsync()
    {
        await Relay.DisposeAsync();
        await Issuer.DisposeAsync();
    }

    /// <summary>A fresh mesh name, so tests sharing the relay never see each other.</summary>
    public static string NewMesh() => "m-" + Guid.NewGuid().ToString("N")[..12];

    public static string NewPeer(string name) => name + "-" + Guid.NewGuid().ToString("N")[..8];

    public Uri MeshUri(string mesh, string extraQuery = "") => Relay.WebSocketUri(query: $"?mesh={mesh}{extraQuery}");

    /// <summary>Connects with a header token and registers <paramref name="peerId"/>.</summary>
    public async Task<TestPeer> JoinAsync(string mesh, string peerId, TokenSpec? spec = null)
    {
        var client = await TestPeer.ConnectWithTokenAsync(MeshUri(mesh), Issuer.Token(spec));
        Assert.Null(await client.RegisterAsAsync(peerId));
        return client;
    }
}

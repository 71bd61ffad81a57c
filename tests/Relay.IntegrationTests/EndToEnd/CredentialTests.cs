using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Credentials never travel": the clients put their own URL (with access_token or AgentCore's
/// presigned X-Amz-* parameters) into frames for everyone; the relay redacts the sending connection's
/// credentials in every form.</summary>
public sealed class CredentialTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    // Characters that percent-encoding changes, so raw, encoded and decoded forms all differ.
    private const string AccessToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.sig/with+plus=and/slash==";
    private const string Token = "tok:secret value~with spaces";
    private const string AmzSignature = "8d6f0c2b5a9e4f1d3c7b6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c";
    private const string AmzCredential = "AKIAIOSFODNN7EXAMPLE/20251125/us-east-1/bedrock-agentcore/aws4_request";
    private const string AmzSecurityToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==";

    private static string[] Secrets => [AccessToken, Token, AmzSignature, AmzCredential, AmzSecurityToken];

    /// <summary>The forms protocol.md names: as in the URL (here percent-encoded) and decoded.</summary>
    private static IEnumerable<string> Forms(string secret) => new[] { secret, Uri.EscapeDataString(secret) }.Distinct();

    private static string Query =>
        $"&access_token={Uri.EscapeDataString(AccessToken)}&token={Uri.EscapeDataString(Token)}" +
        $"&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={Uri.EscapeDataString(AmzCredential)}" +
        $"&X-Amz-Signature={AmzSignature}&X-Amz-Security-Token={Uri.EscapeDataString(AmzSecurityToken)}&X-Amz-Expires=300";

    [Fact]
    public async Task Credentials_of_the_senders_URL_are_redacted_from_forwarded_frames_in_every_form()
    {
        var observer = await JoinAsync();
        var uri = MeshUri(path: "/", extraQuery: Query);
        var client = await ConnectToAsync(uri);
        await client.RegisterAsync();

        var url = uri.OriginalString;
        Assert.Contains(Uri.EscapeDataString(AccessToken), url, StringComparison.Ordinal);
        var mentions = Secrets.SelectMany(Forms).ToArray();
        await client.SendAsync(new
        {
            type = "relay-connected",
            data = new
            {
                url,
                message = $"Connected to {url}",
                decoded = Uri.UnescapeDataString(url),
                all = mentions,
                nested = new { deeper = new[] { new { value = "token is " + AccessToken + "!" } } },
            },
            note = $"top-level {Token} and {AmzSignature}",
        });
        await client.SendAsync(new { type = "relay-config-updated", data = new { relayUrl = url } });
        await client.SendAsync(new { type = "direct", to = observer.Id, data = new { text = $"direct with {AmzSecurityToken}" } });

        var connected = await observer.WaitForAsync(f => Frame.IsType(f, "relay-connected"));
        await observer.WaitForAsync(f => Frame.IsType(f, "relay-config-updated"));
        await observer.WaitForAsync(f => Frame.IsType(f, "direct"));

        foreach (var raw in observer.ReceivedRaw)
        {
            foreach (var form in mentions)
            {
                Assert.DoesNotContain(form, raw, StringComparison.Ordinal);
            }
            // Also as JSON escapes would spell them: the relay must compare decoded string values.
            Assert.DoesNotContain(AccessToken.Replace("/", "\\/", StringComparison.Ordinal), raw, StringComparison.Ordinal);
        }
        var data = connected.GetProperty("data");
        Assert.Contains("[redacted]", data.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.All(data.GetProperty("all").EnumerateArray(), e => Assert.Equal("[redacted]", e.GetString()));
        Assert.Equal("token is [redacted]!", data.GetProperty("nested").GetProperty("deeper")[0].GetProperty("value").GetString());
        Assert.Equal("top-level [redacted] and [redacted]", Frame.Str(connected, "note"));
        // What is not a credential survives: the host, the mesh, short values.
        Assert.Contains(Relay.HttpBase.Authority, data.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Contains($"mesh={Mesh}", data.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Contains("X-Amz-Expires=300", data.GetProperty("url").GetString(), StringComparison.Ordinal); // shorter than 8
        Assert.Equal(client.Id, Frame.Sender(connected));
    }

    [Fact]
    public async Task Secret_spelled_with_JSON_escapes_is_redacted_too()
    {
        var observer = await JoinAsync();
        var client = await ConnectToAsync(MeshUri(extraQuery: $"&access_token={Uri.EscapeDataString(AccessToken)}"));
        await client.RegisterAsync();

        var escaped = AccessToken.Replace("/", "\\/", StringComparison.Ordinal).Replace("e", "\\u0065", StringComparison.Ordinal);
        await client.SendAsync($$$"""{"type":"relay-log","data":{"message":"token {{{escaped}}} here"}}""");
        var log = await observer.WaitForAsync(f => Frame.IsType(f, "relay-log"));
        Assert.Equal("token [redacted] here", Frame.DataStr(log, "message"));
    }

    [Fact]
    public async Task Bearer_token_of_the_upgrade_request_is_redacted()
    {
        const string Bearer = "bearer-secret-0123456789abcdef";
        var observer = await JoinAsync();
        var client = await ConnectToAsync(MeshUri(), configure: o => o.SetRequestHeader("Authorization", "Bearer " + Bearer));
        await client.RegisterAsync();
        await client.SendAsync(new { type = "relay-log", data = new { message = $"using {Bearer}" } });
        var log = await observer.WaitForAsync(f => Frame.IsType(f, "relay-log"));
        Assert.Equal("using [redacted]", Frame.DataStr(log, "message"));
    }

    [Fact]
    public async Task Presence_metadata_carrying_the_URL_is_redacted_in_announcements_and_snapshots()
    {
        var observer = await JoinAsync();
        var uri = MeshUri(extraQuery: $"&access_token={Uri.EscapeDataString(AccessToken)}");
        var client = await ConnectToAsync(uri);
        await client.RegisterAsync(new { relayUrl = uri.OriginalString, note = AccessToken });

        var announced = await observer.WaitForAsync(f => Frame.IsPresenceOf(f, client.Id));
        Assert.Equal("[redacted]", Frame.DataStr(announced, "note"));

        var newcomer = await ConnectAsync();
        await newcomer.RegisterAsync();
        foreach (var raw in observer.ReceivedRaw.Concat(newcomer.ReceivedRaw))
        {
            foreach (var form in Forms(AccessToken)) Assert.DoesNotContain(form, raw, StringComparison.Ordinal);
        }
        var entry = newcomer.Received.Single(f => Frame.IsPresenceOf(f, client.Id));
        Assert.Equal("[redacted]", Frame.DataStr(entry, "note"));
    }

    [Fact]
    public async Task Values_shorter_than_eight_characters_are_not_treated_as_secrets()
    {
        var observer = await JoinAsync();
        var client = await ConnectToAsync(MeshUri(extraQuery: "&access_token=abc1234&token=x"));
        await client.RegisterAsync();
        await client.SendAsync(new { type = "relay-log", data = new { message = "abc1234 and x stay" } });
        var log = await observer.WaitForAsync(f => Frame.IsType(f, "relay-log"));
        Assert.Equal("abc1234 and x stay", Frame.DataStr(log, "message"));
    }

    [Fact]
    public async Task Only_the_sending_connections_credentials_are_redacted()
    {
        const string Mine = "mine-0123456789-secret";
        const string Theirs = "theirs-0123456789-secret";
        var observer = await JoinAsync();
        var other = await ConnectToAsync(MeshUri(extraQuery: $"&access_token={Theirs}"));
        await other.RegisterAsync();
        var client = await ConnectToAsync(MeshUri(extraQuery: $"&access_token={Mine}"));
        await client.RegisterAsync();
        await client.SendAsync(new { type = "relay-log", data = new { message = $"{Mine} {Theirs}" } });
        var log = await observer.WaitForAsync(f => Frame.IsType(f, "relay-log"));
        Assert.Equal($"[redacted] {Theirs}", Frame.DataStr(log, "message"));
    }
}

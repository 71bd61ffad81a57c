using System.Net;
using System.Net.WebSockets;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary><c>Relay:AllowedOrigins</c>: with auth off, any web page a browser visits could join every relay that
/// browser reaches; an operator lists the pages that may. Unset, any origin is let in, as before.</summary>
public sealed class OriginTests : EndToEndTest
{
    private async Task<HttpStatusCode?> UpgradeStatusAsync(string? origin)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null) socket.Options.SetRequestHeader("Origin", origin);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await socket.ConnectAsync(MeshUri(), timeout.Token);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            return HttpStatusCode.SwitchingProtocols;
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
    }

    [Fact]
    public async Task Without_a_list_any_origin_may_connect()
    {
        await StartRelayAsync();
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync("https://any-page.example"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync(null));
    }

    [Fact]
    public async Task A_page_of_an_unlisted_origin_gets_403_and_joins_nothing()
    {
        await StartRelayAsync("Relay:AllowedOrigins:0=https://agi.example", "Relay:AllowedOrigins:1=http://localhost:5173/");
        var member = await JoinAsync();

        Assert.Equal(HttpStatusCode.Forbidden, await UpgradeStatusAsync("https://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await UpgradeStatusAsync("https://agi.example.evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await UpgradeStatusAsync("null"));
        Assert.Equal(HttpStatusCode.Forbidden, await UpgradeStatusAsync("http://agi.example"));

        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync("https://agi.example"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync("https://AGI.example:443"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync("http://localhost:5173"));
        // Not a browser: it could send any Origin anyway.
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await UpgradeStatusAsync(null));
        Assert.Equal([member.Id], PeersOf(await InvocationsAsync(Mesh)));
    }

    [Theory]
    [InlineData("agi.example")]
    [InlineData("https://agi.example/app")]
    [InlineData("https://agi.example?x=1")]
    public async Task A_list_entry_that_is_no_origin_stops_the_start(string entry)
    {
        await Assert.ThrowsAnyAsync<Exception>(() => StartRelayAsync($"Relay:AllowedOrigins:0={entry}"));
    }
}

using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Operations;

/// <summary>
/// No credential from a WebSocket URL reaches the log, whatever levels and provider-scoped rules an operator sets:
/// the real relay process, its console log captured, clients connecting with every query spelling of a token.
/// </summary>
public sealed class TokenLogTests
{
    [Theory]
    [InlineData("Logging:Console:LogLevel:Default=Information")]
    [InlineData("Logging:Console:LogLevel:Default=Debug")]
    [InlineData("Logging:Console:LogLevel:Default=Trace")]
    [InlineData("Logging:LogLevel:Microsoft.AspNetCore=Trace")]
    [InlineData("Logging:Console:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Trace")]
    public async Task No_query_credential_reaches_the_log(string logging)
    {
        var secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ." + Guid.NewGuid().ToString("N");
        var amz = "IQoJb3JpZ2luX2VjE" + Guid.NewGuid().ToString("N");
        await using var relay = await LimitedRelayProcess.StartAsync(4096, logging);
        string[] queries =
        [
            $"?mesh=x&access_token={secret}",
            $"?mesh=x&token={secret}",
            $"?Access_Token={secret}&mesh=x",
            $"?mesh=x&%61ccess_token={Uri.EscapeDataString(secret)}",
            $"?mesh=x&X-Amz-Security-Token={amz}&X-Amz-Signature={secret}",
        ];
        foreach (var query in queries)
        {
            var uri = new Uri($"ws://127.0.0.1:{relay.HttpBase.Port}/ws{query}");
            await using var peer = await TestPeer.ConnectAsync(uri);
            await peer.RegisterAsync(new { url = uri.ToString() });
            await peer.CloseAsync();
        }
        // A refused upgrade is logged by other paths than an accepted one.
        using (var plain = await relay.Http.GetAsync(new Uri($"ws?mesh=x&access_token={secret}", UriKind.Relative))) Assert.Equal(426, (int)plain.StatusCode);

        await relay.StopAsync(TimeSpan.FromSeconds(30));
        var log = relay.Log;
        Assert.Contains("Application is shutting down", log, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        Assert.DoesNotContain(Uri.EscapeDataString(secret), log, StringComparison.Ordinal);
        Assert.DoesNotContain(secret.Split('.')[2], log, StringComparison.Ordinal);
        Assert.DoesNotContain(amz, log, StringComparison.Ordinal);
    }
}

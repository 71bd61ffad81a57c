using System.Net;
using System.Net.WebSockets;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>What the relay answered to a WebSocket upgrade it refused: the HTTP status and <c>Retry-After</c>.</summary>
public sealed record RefusedUpgrade(HttpStatusCode Status, string? RetryAfter, string Error)
{
    /// <summary>Attempts an upgrade that must be refused (bounded); throws if it was accepted.</summary>
    public static async Task<RefusedUpgrade> AttemptAsync(Uri uri, IPAddress? from = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        try
        {
            await (from is null ? socket.ConnectAsync(uri, timeout.Token) : socket.ConnectAsync(uri, LocalAddress.Invoker(from), timeout.Token));
        }
        catch (WebSocketException ex)
        {
            var retryAfter = socket.HttpResponseHeaders?
                .FirstOrDefault(h => string.Equals(h.Key, "Retry-After", StringComparison.OrdinalIgnoreCase)).Value?.SingleOrDefault();
            return new RefusedUpgrade(socket.HttpStatusCode, retryAfter, ex.Message);
        }
        throw new InvalidOperationException($"the upgrade to {uri} was accepted; expected a refusal");
    }
}

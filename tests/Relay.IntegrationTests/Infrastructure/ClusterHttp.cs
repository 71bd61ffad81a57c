using System.Net.WebSockets;
using System.Text.Json;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Small, bounded client helpers for the cluster tests.</summary>
internal static class ClusterHttp
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    public static HttpClient Client() => new() { Timeout = RequestTimeout };

    /// <summary>The sorted peer ids <c>POST /invocations?mesh=</c> reports.</summary>
    public static async Task<string[]> PeersAsync(HttpClient http, Uri httpBase, string mesh)
    {
        using var response = await http.PostAsync(new Uri(httpBase, $"invocations?mesh={mesh}"), content: null);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. body.RootElement.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!)];
    }

    /// <summary>Polls <see cref="PeersAsync"/> until it reports <paramref name="expected"/> or the timeout passes;
    /// returns the last answer.</summary>
    public static async Task<string[]> WaitForPeersAsync(HttpClient http, Uri httpBase, string mesh, string[] expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var peers = await PeersAsync(http, httpBase, mesh);
            if (peers.SequenceEqual(expected) || DateTime.UtcNow >= deadline) return peers;
            await Task.Delay(100);
        }
    }

    /// <summary>Opens a WebSocket to <paramref name="uri"/> and announces <paramref name="peerId"/> with a presence.</summary>
    public static async Task<ClientWebSocket> ConnectPeerAsync(Uri uri, string peerId)
    {
        var socket = new ClientWebSocket();
        using var cts = new CancellationTokenSource(RequestTimeout);
        await socket.ConnectAsync(uri, cts.Token);
        var presence = JsonSerializer.SerializeToUtf8Bytes(new { type = "presence", from = peerId, data = new { status = "online" } });
        await socket.SendAsync(presence, WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        return socket;
    }

    public static async Task CloseAsync(ClientWebSocket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            if (socket.State == WebSocketState.Open) await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // the node may be gone already
        }
        socket.Dispose();
    }

    /// <summary><c>GET path</c> status and body.</summary>
    public static async Task<(int Status, string Body)> GetAsync(HttpClient http, Uri httpBase, string path)
    {
        using var response = await http.GetAsync(new Uri(httpBase, path));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static string NewMesh() => "c-" + Guid.NewGuid().ToString("N")[..12];
}

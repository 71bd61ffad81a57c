using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// <c>Relay:DirectHandshake</c>: a plain upgrade that arrives in one read is served below ASP.NET Core, anything else by
/// Kestrel's HTTP and the <c>/ws</c> endpoint, and a client cannot tell the two apart except by Kestrel's <c>Server</c>
/// header, which only the second writes (so these tests can see which way served them).
/// </summary>
public sealed class DirectHandshakeTests : EndToEndTest
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Both_ways_relay_frames_and_refuse_alike(bool direct)
    {
        await StartRelayAsync($"Relay:DirectHandshake={direct}", "Relay:MaxConnections=3", "Relay:MaxConnectionsPerAddress=3", "Relay:RetryAfter=00:00:07");
        var a = await JoinAsync();
        var b = await JoinAsync();
        await a.MarkAsync(b);
        await b.DirectMarkAsync(a);

        var badMesh = await RefusedUpgrade.AttemptAsync(Relay.WebSocketUri("/ws", "?mesh=no%20spaces"));
        Assert.Equal(HttpStatusCode.BadRequest, badMesh.Status);

        await using var raw = await RawUpgrade.OpenAsync(Relay);
        var answer = await raw.UpgradeAsync([UpgradeRequest.Head($"/ws?mesh={Mesh}")]);
        Assert.StartsWith("HTTP/1.1 101 ", answer, StringComparison.Ordinal);
        Assert.Equal(!direct, answer.Contains("Server: Kestrel", StringComparison.Ordinal));

        var full = await RefusedUpgrade.AttemptAsync(MeshUri());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.Status);
        Assert.Equal("7", full.RetryAfter);
        await a.MarkAsync(b);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_head_in_one_read_is_served_directly_and_one_in_pieces_by_Kestrel(bool inPieces)
    {
        await StartRelayAsync();
        var watcher = await JoinAsync();
        await using var raw = await RawUpgrade.OpenAsync(Relay);
        var head = UpgradeRequest.Head($"/ws?mesh={Mesh}");
        var peer = TestPeer.NewId("raw");
        var presence = MaskedText(Presence(peer));

        // Served directly, the first frame may come in the same write as the head: it must be left for the WebSocket.
        var answer = await raw.UpgradeAsync(inPieces ? [head[..20], head[20..]] : [head + Latin1(presence)]);
        if (inPieces) await raw.SendAsync(presence);

        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", answer, StringComparison.Ordinal);
        Assert.Contains($"Sec-WebSocket-Accept: {UpgradeRequest.SampleAccept}\r\n", answer, StringComparison.Ordinal);
        Assert.Equal(inPieces, answer.Contains("Server: Kestrel", StringComparison.Ordinal));
        await watcher.WaitForAsync(f => Frame.IsPresenceOf(f, peer));
    }

    [Fact]
    public async Task A_refused_direct_upgrade_gets_a_whole_HTTP_answer_and_the_connection_closes()
    {
        await StartRelayAsync();
        await using var raw = await RawUpgrade.OpenAsync(Relay);

        var answer = await raw.UpgradeAsync([UpgradeRequest.Head("/ws?mesh=%2F")]);
        var body = await raw.ReadToEndAsync();

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", answer, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("Server:", answer, StringComparison.Ordinal);
        Assert.StartsWith("mesh:", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_that_asks_for_something_else_first_is_Kestrels()
    {
        await StartRelayAsync();
        await using var raw = await RawUpgrade.OpenAsync(Relay);

        var ping = await raw.UpgradeAsync(["GET /ping HTTP/1.1\r\nHost: relay\r\n\r\n"]);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", ping, StringComparison.Ordinal);
        Assert.Contains("Server: Kestrel", ping, StringComparison.Ordinal);
    }

    /// <summary>A client text frame (masked, as RFC 6455 requires of clients; a zero mask leaves the payload as it is).</summary>
    private static byte[] MaskedText(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        Assert.True(payload.Length < 126);
        return [0x81, (byte)(0x80 | payload.Length), 0, 0, 0, 0, .. payload];
    }

    private static string Presence(string peer) => JsonSerializer.Serialize(new { type = "presence", from = peer, data = new { } });

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>A TCP connection to the relay that writes an upgrade as given and reads the answer's head.</summary>
    private sealed class RawUpgrade : IAsyncDisposable
    {
        private readonly TcpClient _client;
        private readonly NetworkStream _stream;

        private RawUpgrade(TcpClient client)
        {
            _client = client;
            _stream = client.GetStream();
        }

        public static async Task<RawUpgrade> OpenAsync(RelayServer relay)
        {
            var client = new TcpClient { NoDelay = true };
            await client.ConnectAsync(IPAddress.Loopback, relay.HttpBase.Port);
            return new RawUpgrade(client);
        }

        /// <summary>Writes <paramref name="pieces"/> as separate writes, the later ones once the relay could have read
        /// the earlier (it answers nothing before the head is whole), and returns the head of the answer.</summary>
        public async Task<string> UpgradeAsync(IReadOnlyList<string> pieces)
        {
            for (var i = 0; i < pieces.Count; i++)
            {
                // A gap between writes is the traffic shape under test, not a wait for the relay.
                if (i > 0) await Task.Delay(TimeSpan.FromMilliseconds(200));
                await _stream.WriteAsync(Encoding.Latin1.GetBytes(pieces[i]));
            }
            using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
            {
                if (await _stream.ReadAsync(one, timeout.Token) == 0) throw new IOException("closed before the answer's head ended: " + Encoding.ASCII.GetString([.. head]));
                head.Add(one[0]);
            }
            return Encoding.ASCII.GetString([.. head]);
        }

        public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

        /// <summary>What follows the head until the relay closes the connection (bounded).</summary>
        public async Task<string> ReadToEndAsync()
        {
            using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
            using var rest = new MemoryStream();
            await _stream.CopyToAsync(rest, timeout.Token);
            return Encoding.UTF8.GetString(rest.ToArray());
        }

        public ValueTask DisposeAsync()
        {
            _client.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

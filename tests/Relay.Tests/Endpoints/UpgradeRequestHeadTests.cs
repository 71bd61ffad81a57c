using System.Buffers;
using System.Text;
using Relay.Gateway.Endpoints;
using Xunit;

namespace Relay.Tests.Endpoints;

/// <summary>The direct handshake recognises only a complete, plain, valid upgrade; everything else is left to Kestrel.</summary>
public sealed class UpgradeRequestHeadTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static string Head(string requestLine = "GET /ws?mesh=team HTTP/1.1", string? headers = null) =>
        requestLine + "\r\n" + (headers ?? $"Host: 127.0.0.1:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Key}\r\n") + "\r\n";

    private static UpgradeRequestHead? Parse(string text, int maxLength = 32 * 1024, int maxHeaders = 100) =>
        UpgradeRequestHead.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), maxLength, maxHeaders);

    [Fact]
    public void Reads_a_plain_upgrade()
    {
        var text = Head();
        var head = Parse(text + "first frame bytes");

        Assert.NotNull(head);
        Assert.Equal("/ws", head.Path);
        Assert.Equal("?mesh=team", head.QueryString);
        Assert.Equal(Key, head.Key);
        Assert.Equal(text.Length, head.Length);
        Assert.Equal("websocket", head.Headers["Upgrade"].ToString());
    }

    [Theory]
    [InlineData("GET / HTTP/1.1", "/", "")]
    [InlineData("GET /ws HTTP/1.1", "/ws", "")]
    [InlineData("GET /ws?access_token=a.b.c&mesh=m HTTP/1.1", "/ws", "?access_token=a.b.c&mesh=m")]
    public void Reads_both_paths_with_or_without_a_query(string requestLine, string path, string query)
    {
        var head = Parse(Head(requestLine));

        Assert.NotNull(head);
        Assert.Equal(path, head.Path);
        Assert.Equal(query, head.QueryString);
    }

    [Fact]
    public void Reads_token_lists_and_any_case()
    {
        var head = Parse(Head(headers: $"host: h\r\nconnection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\nsec-websocket-version: 13\r\nsec-websocket-key:   {Key}  \r\nOrigin: https://agi.diy\r\n"));

        Assert.NotNull(head);
        Assert.Equal("https://agi.diy", head.Headers["Origin"].ToString());
    }

    [Theory]
    [InlineData("POST /ws HTTP/1.1")]
    [InlineData("GET /ws HTTP/1.0")]
    [InlineData("GET /ping HTTP/1.1")]
    [InlineData("GET /wsx HTTP/1.1")]
    [InlineData("GET /ws/ HTTP/1.1")]
    [InlineData("GET http://host/ws HTTP/1.1")]
    [InlineData("GET /ws#x HTTP/1.1")]
    [InlineData("GET  /ws HTTP/1.1")]
    [InlineData("get /ws HTTP/1.1")]
    public void Leaves_other_request_lines_to_Kestrel(string requestLine) => Assert.Null(Parse(Head(requestLine)));

    [Theory]
    [InlineData("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")] // no Host
    [InlineData("Host: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nConnection: keep-alive\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: !GhlIHNhbXBsZSBub25jZQ==\r\n")]
    [InlineData("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Host: a\r\nTransfer-Encoding: chunked\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n")]
    public void Leaves_upgrades_missing_or_doubling_a_header_to_Kestrel(string headers) => Assert.Null(Parse(Head(headers: headers)));

    [Theory]
    [InlineData("Host : a\r\n")]                // space before the colon
    [InlineData(" folded\r\n")]                 // an obsolete folded line
    [InlineData(": no name\r\n")]
    [InlineData("no colon\r\n")]
    [InlineData("X-A: one\rtwo\r\n")]          // a lone CR
    [InlineData("X-A: one\ntwo\r\n")]          // a lone LF
    [InlineData("X-A: caf\u00e9\r\n")]          // not ASCII
    [InlineData("X-A: nul\u0000\r\n")]
    public void Leaves_malformed_header_lines_to_Kestrel(string extra)
    {
        var headers = $"Host: a\r\n{extra}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Key}\r\n";

        Assert.Null(Parse(Head(headers: headers)));
    }

    [Fact]
    public void Leaves_an_incomplete_head_to_Kestrel()
    {
        var text = Head();

        Assert.Null(Parse(text[..^2]));
        Assert.Null(Parse(text[..10]));
        Assert.Null(Parse(""));
    }

    [Fact]
    public void Leaves_a_head_over_the_limits_to_Kestrel()
    {
        var text = Head();

        Assert.Null(Parse(text, maxLength: text.Length - 1));
        Assert.NotNull(Parse(text, maxLength: text.Length));
        Assert.Null(Parse(text, maxHeaders: 4));
        Assert.NotNull(Parse(text, maxHeaders: 5));
    }

    [Fact]
    public void Reads_a_head_split_over_segments()
    {
        var bytes = Encoding.ASCII.GetBytes(Head());
        var first = new Segment(bytes.AsMemory(0, 37));
        var last = first.Append(bytes.AsMemory(37));

        var head = UpgradeRequestHead.TryParse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), 32 * 1024, 100);

        Assert.NotNull(head);
        Assert.Equal(bytes.Length, head.Length);
    }

    [Fact]
    public void Answers_the_key_with_RFC_6455s_accept_value() =>
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", DirectWebSocketFeature.AcceptKey(Key));

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}

using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Relay.Gateway.Endpoints;

/// <summary>
/// The head of a WebSocket upgrade to the relay (<c>GET /ws</c> or <c>GET /</c>, RFC 6455 section 4.2.1), read off a
/// connection's first bytes by <see cref="DirectUpgradeMiddleware"/>. It recognises only the plain case, strictly:
/// a complete head within Kestrel's size limits, visible ASCII, CRLF line ends, HTTP/1.1, one <c>Host</c>, no body,
/// and every header the handshake needs, valid. Anything else is not parsed at all but left to Kestrel, which answers
/// it as it answers every request (400, 426, 431, or the relay's own endpoints), so this parser never has to.
/// </summary>
internal sealed class UpgradeRequestHead
{
    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private UpgradeRequestHead(string path, string query, HeaderDictionary headers, string key, int length)
    {
        Path = path;
        QueryString = query;
        Headers = headers;
        Key = key;
        Length = length;
    }

    /// <summary><c>/ws</c> or <c>/</c>.</summary>
    public string Path { get; }

    /// <summary>The raw query, with its <c>?</c>; empty when there is none.</summary>
    public string QueryString { get; }

    public HeaderDictionary Headers { get; }

    /// <summary>The client's <c>Sec-WebSocket-Key</c>.</summary>
    public string Key { get; }

    /// <summary>Bytes of the head, its blank line included.</summary>
    public int Length { get; }

    /// <summary>The upgrade at the start of <paramref name="buffer"/>, or null when the buffer holds anything else
    /// (or not yet the whole head).</summary>
    public static UpgradeRequestHead? TryParse(ReadOnlySequence<byte> buffer, int maxLength, int maxHeaders)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: true)) return null;
        var length = (int)Math.Min(reader.Consumed, int.MaxValue);
        if (length > maxLength) return null;

        var bytes = head.IsSingleSegment ? head.FirstSpan : head.ToArray();
        if (bytes.ContainsAnyExcept(Visible)) return null;

        var lineEnd = bytes.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? bytes : bytes[..lineEnd];
        if (requestLine.IndexOfAny((byte)'\r', (byte)'\n') >= 0) return null;
        if (!requestLine.StartsWith("GET "u8) || !requestLine.EndsWith(" HTTP/1.1"u8)) return null;
        var target = requestLine[4..^9];
        var queryStart = target.IndexOf((byte)'?');
        var path = queryStart < 0 ? target : target[..queryStart];
        var pathText = path.SequenceEqual("/ws"u8) ? "/ws" : path.SequenceEqual("/"u8) ? "/" : null;
        if (pathText is null || target.IndexOfAny((byte)' ', (byte)'#') >= 0) return null;

        var headers = new HeaderDictionary();
        IHeaderDictionary known = headers;
        var count = 0;
        for (var rest = lineEnd < 0 ? [] : bytes[(lineEnd + 2)..]; !rest.IsEmpty;)
        {
            var end = rest.IndexOf("\r\n"u8);
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 2)..];
            if (line.IndexOfAny((byte)'\r', (byte)'\n') >= 0) return null; // a lone CR or LF
            var colon = line.IndexOf((byte)':');
            // No name, a name with anything but token characters (spaces before the colon, a folded line), or too many.
            if (colon <= 0 || line[..colon].ContainsAnyExcept(TokenBytes) || ++count > maxHeaders) return null;
            headers.Append(Encoding.ASCII.GetString(line[..colon]), Encoding.ASCII.GetString(line[(colon + 1)..].Trim(" \t"u8)));
        }

        if (known.Host.Count != 1 || known.ContainsKey("Content-Length") || known.TransferEncoding.Count != 0) return null;
        if (!HasToken(known.Connection, "Upgrade") || !HasToken(known.Upgrade, "websocket")) return null;
        if (known.SecWebSocketVersion.Count != 1 || known.SecWebSocketVersion[0] != "13") return null;
        if (known.SecWebSocketKey.Count != 1 || known.SecWebSocketKey[0] is not { } key || !IsValidKey(key)) return null;
        return new UpgradeRequestHead(pathText, Encoding.ASCII.GetString(target[path.Length..]), headers, key, length);
    }

    private static readonly SearchValues<byte> Visible = SearchValues.Create(VisibleBytes());

    /// <summary>Visible ASCII, space, tab, and the CR and LF of line ends (lone ones are refused line by line).</summary>
    private static byte[] VisibleBytes()
    {
        var bytes = new List<byte> { (byte)'\t', (byte)'\r', (byte)'\n' };
        for (var b = 0x20; b <= 0x7E; b++) bytes.Add((byte)b);
        return [.. bytes];
    }

    /// <summary>Whether a comma-separated header holds <paramref name="token"/> (case-insensitive).</summary>
    private static bool HasToken(StringValues values, string token)
    {
        foreach (var value in values)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries))
            {
                if (string.Equals(part, token, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        return false;
    }

    /// <summary>A base64 nonce of 16 bytes (RFC 6455 section 4.2.1).</summary>
    private static bool IsValidKey(string key)
    {
        Span<byte> nonce = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64String(key, nonce, out var written) && written == 16;
    }
}

using System.Buffers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Relay.Gateway.Connections;

namespace Relay.Gateway.Endpoints;

/// <summary>
/// <c>context.WebSockets</c> for an upgrade that <see cref="DirectUpgradeMiddleware"/> serves below ASP.NET Core: the
/// <c>101 Switching Protocols</c> is written to the connection itself, and the WebSocket (.NET's own, as ASP.NET Core's
/// middleware makes it) runs on the connection's pipes. Nothing of Kestrel's HTTP/1.1 request stays behind it.
/// </summary>
internal sealed class DirectWebSocketFeature(ConnectionContext connection, string key) : IHttpWebSocketFeature, IWebSocketTransportFeature
{
    private static readonly byte[] Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    public bool IsWebSocketRequest => true;

    public WriteCoalescingStream? Transport { get; private set; }

    /// <summary>Whether the upgrade was accepted (then the connection is the WebSocket's, and no HTTP answer follows).</summary>
    public bool Accepted => Transport is not null;

    public async Task<WebSocket> AcceptAsync(WebSocketAcceptContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Accepted) throw new InvalidOperationException("the WebSocket was accepted already");
        if (context.DangerousEnableCompression) throw new NotSupportedException("the relay does not negotiate WebSocket compression");

        var response = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ")
            .Append(AcceptKey(key)).Append("\r\n");
        if (context.SubProtocol is { } protocol) response.Append("Sec-WebSocket-Protocol: ").Append(protocol).Append("\r\n");
        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(response.Append("\r\n").ToString()));

        Transport = new WriteCoalescingStream(new DuplexPipeStream(connection.Transport));
        return WebSocket.CreateFromStream(Transport, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = context.SubProtocol,
            KeepAliveInterval = context.KeepAliveInterval ?? WebSocket.DefaultKeepAliveInterval,
            KeepAliveTimeout = context.KeepAliveTimeout ?? Timeout.InfiniteTimeSpan,
        });
    }

    /// <summary><c>Sec-WebSocket-Accept</c>: the base64 SHA-1 of the key and RFC 6455's GUID.</summary>
    internal static string AcceptKey(string key)
    {
        Span<byte> input = stackalloc byte[64];
        var length = Encoding.ASCII.GetBytes(key, input);
        Guid.CopyTo(input[length..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for the handshake; it protects nothing
        SHA1.HashData(input[..(length + Guid.Length)], hash);
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }
}

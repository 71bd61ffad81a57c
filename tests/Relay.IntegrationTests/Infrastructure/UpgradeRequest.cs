namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A WebSocket upgrade request as raw bytes would carry it, for tests that write to a TCP socket themselves
/// (to time or split the request, or to read the answer's head as sent).</summary>
internal static class UpgradeRequest
{
    /// <summary>RFC 6455's sample <c>Sec-WebSocket-Key</c>; its accept value is <see cref="SampleAccept"/>.</summary>
    public const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";

    public const string SampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    /// <summary>The whole head of a plain upgrade to <paramref name="target"/> (path and query), blank line included.</summary>
    public static string Head(string target, string host = "relay") =>
        $"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {SampleKey}\r\n\r\n";
}

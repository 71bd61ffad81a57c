using System.Text;

namespace Relay.Gateway.Authentication;

/// <summary>WebSocket close reasons are limited to 123 bytes of UTF-8 (RFC 6455 5.5: a control frame carries at most
/// 125 bytes, two of them the status code).</summary>
internal static class CloseReason
{
    public const int MaxBytes = 123;

    /// <summary><paramref name="reason"/>, cut at a character boundary to fit.</summary>
    public static string Fit(string reason)
    {
        if (Encoding.UTF8.GetByteCount(reason) <= MaxBytes) return reason;
        var length = reason.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(reason.AsSpan(0, length)) > MaxBytes) length--;
        if (length > 0 && char.IsHighSurrogate(reason[length - 1])) length--;
        return reason[..length];
    }
}

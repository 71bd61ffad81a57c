using Microsoft.Extensions.Primitives;

namespace Relay.Gateway.Configuration;

/// <summary>
/// Which web pages may open a relay WebSocket (<c>Relay:AllowedOrigins</c>): browsers send the page's origin with
/// the upgrade, and with auth off any page a browser visits could otherwise join every relay that browser reaches.
/// Empty: any origin, as before. Set: an upgrade whose <c>Origin</c> is not listed gets 403; one without an
/// <c>Origin</c> (not a browser, which could send any header anyway) is let in.
/// </summary>
internal sealed class AllowedOrigins
{
    private readonly HashSet<string>? _allowed;

    public AllowedOrigins(IReadOnlyCollection<string> configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        if (configured.Count == 0) return;
        _allowed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var origin in configured)
        {
            if (Normalize(origin) is { } normalized) _allowed.Add(normalized);
        }
    }

    /// <summary>Whether an upgrade with this <c>Origin</c> header may proceed.</summary>
    public bool Allows(StringValues origin)
    {
        if (_allowed is null || StringValues.IsNullOrEmpty(origin)) return true;
        return origin.Count == 1 && Normalize(origin[0]) is { } normalized && _allowed.Contains(normalized);
    }

    /// <summary>Whether <paramref name="entry"/> is something a browser sends as an origin: <c>scheme://host[:port]</c>
    /// (no path, query or credentials) or <c>null</c> (sandboxed frames, local files).</summary>
    public static bool IsValidEntry(string? entry) => Normalize(entry) is not null;

    /// <summary><c>scheme://host[:port]</c> in lower case without a default port, <c>null</c> as itself; null when it is
    /// no origin.</summary>
    private static string? Normalize(string? origin)
    {
        if (string.Equals(origin, "null", StringComparison.Ordinal)) return origin;
        if (!Uri.TryCreate(origin?.TrimEnd('/'), UriKind.Absolute, out var uri)
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0
            || string.IsNullOrEmpty(uri.Host))
        {
            return null;
        }
        return uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }
}

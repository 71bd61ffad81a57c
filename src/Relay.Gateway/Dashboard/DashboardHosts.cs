using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The <c>Host</c> names the dashboard answers to, against DNS rebinding: a page on a name its author controls can
/// point that name at 127.0.0.1 (or any address the victim's browser reaches) and read the dashboard as same-origin.
/// Allowed: IP literals and <c>localhost</c> names (no attacker controls what they resolve to), the host names of the
/// node's listen addresses, and <see cref="DashboardOptions.AllowedHosts"/> (<c>*</c>: any).
/// </summary>
internal sealed class DashboardHosts(IOptions<DashboardOptions> options, IServer server)
{
    private HashSet<string>? _listenHosts;

    public bool Allows(HostString host)
    {
        if (!host.HasValue) return true; // HTTP/1.0 without Host: not a browser
        var name = host.Host;
        var unbracketed = name.StartsWith('[') && name.EndsWith(']') ? name[1..^1] : name;
        if (IPAddress.TryParse(unbracketed, out _)) return true;
        if (IsLocalhost(name)) return true;
        var allowed = options.Value.AllowedHosts;
        if (allowed.Any(entry => entry == "*" || string.Equals(entry, name, StringComparison.OrdinalIgnoreCase))) return true;
        return ListenHosts().Contains(name);
    }

    private static bool IsLocalhost(string name) =>
        string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>Host names in the addresses the server listens on (<c>http://relay.internal:8080</c>), read once the
    /// server has started.</summary>
    private HashSet<string> ListenHosts()
    {
        if (_listenHosts is { } known) return known;
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            // Wildcards (0.0.0.0, [::], *, +) name no host; Uri refuses * and +.
            if (Uri.TryCreate(address.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal),
                    UriKind.Absolute, out var uri) && uri.HostNameType == UriHostNameType.Dns && uri.Host != "wildcard.invalid")
            {
                hosts.Add(uri.Host);
            }
        }
        if (addresses.Count > 0) _listenHosts = hosts;
        return hosts;
    }
}

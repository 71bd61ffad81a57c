using Microsoft.IdentityModel.Protocols;

namespace Relay.Gateway.Authentication;

/// <summary>
/// Fetches the discovery document and the JWKS it points to. Every address must be https; plain http is allowed
/// only on a loopback address (a test issuer), for the discovery document and the JWKS alike. Redirects are not
/// followed (an https address could otherwise lead to an http one).
/// </summary>
internal sealed class DiscoveryDocumentRetriever(HttpClient http) : IDocumentRetriever
{
    private readonly HttpDocumentRetriever _inner = new(http) { RequireHttps = false, SendAdditionalHeaderData = false };

    public Task<string> GetDocumentAsync(string address, CancellationToken cancel)
    {
        if (!IsAllowed(address))
        {
            throw new InvalidOperationException($"Relay fetches identity provider metadata over https only (plain http only on loopback): {address}");
        }
        return _inner.GetDocumentAsync(address, cancel);
    }

    public static bool IsAllowed(string? address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));
}

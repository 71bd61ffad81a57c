using System.Globalization;

namespace Relay.Gateway.Authentication;

/// <summary>
/// Who a connection authenticated as: the token's subject and client id (and its issuer), bound to the connection
/// for its lifetime. A later auth frame may bring a fresher token of the same principal; the peer ids the connection
/// takes are owned by this principal (see <see cref="Key"/>).
/// </summary>
internal sealed class ConnectionPrincipal
{
    public ConnectionPrincipal(string issuer, string? subject, string? clientId, DateTimeOffset expiresAt, string? mesh)
    {
        Issuer = issuer;
        Subject = subject;
        ClientId = clientId;
        ExpiresAt = expiresAt;
        Mesh = mesh;
        // Length-prefixed, so no choice of claim values makes two different principals look alike; an absent claim has
        // length -1, so a token without sub (a client acting for itself) is never the user whose sub equals its client id.
        Key = string.Create(CultureInfo.InvariantCulture,
            $"{issuer.Length}:{issuer}{subject?.Length ?? -1}:{subject}{clientId?.Length ?? -1}:{clientId}");
    }

    public string Issuer { get; }

    /// <summary>The token's <c>sub</c>; null for a token without one (a client-credentials token: the principal is then
    /// the client id alone).</summary>
    public string? Subject { get; }

    /// <summary>The first of <c>client_id</c>, <c>azp</c>, <c>cid</c>, <c>appid</c> the token carries.</summary>
    public string? ClientId { get; }

    /// <summary>The token's <c>exp</c>.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>The mesh named by the configured mesh claim, when the token has it.</summary>
    public string? Mesh { get; }

    /// <summary>The identity peer grains compare (issuer, subject, client id): a peer id online under one key cannot
    /// be taken by a connection of another.</summary>
    public string Key { get; }

    public bool IsSameIdentity(ConnectionPrincipal other) => string.Equals(Key, other.Key, StringComparison.Ordinal);

    public const string OtherMeshError = "token is for another mesh";

    /// <summary>The mesh of a connection: the token's mesh claim when it has one (a <paramref name="requested"/>
    /// <c>?mesh=</c> must then name the same mesh, else false), otherwise <paramref name="requested"/> or
    /// <paramref name="fallback"/>.</summary>
    public bool TryChooseMesh(string? requested, string fallback, out string mesh)
    {
        mesh = Mesh ?? requested ?? fallback;
        return Mesh is null || requested is null || string.Equals(requested, Mesh, StringComparison.Ordinal);
    }
}

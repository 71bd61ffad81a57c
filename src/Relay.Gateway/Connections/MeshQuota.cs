using System.Net;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Connections;

/// <summary>
/// Counts the meshes the open WebSockets of each client address, and of each principal (auth on), are in on this
/// node, and refuses a connection to a new mesh beyond <see cref="RelayOptions.MaxMeshesPerAddress"/> or
/// <see cref="RelayOptions.MaxMeshesPerPrincipal"/>: one client opening sockets to distinct <c>?mesh=</c> names
/// could otherwise fill <see cref="RelayOptions.MaxMeshes"/> and lock every other client out of new meshes. A
/// connection to a mesh its address or principal is already in costs nothing more. Entries go with their last
/// connection, so the tables hold only what open connections use (bounded by the connection limits).
/// </summary>
internal sealed class MeshQuota(IOptions<RelayOptions> options)
{
    public enum Refusal { None, AddressFull, PrincipalFull }

    private readonly RelayOptions _options = options.Value;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, Dictionary<string, int>> _byAddress = [];
    private readonly Dictionary<string, Dictionary<string, int>> _byPrincipal = new(StringComparer.Ordinal);

    /// <summary>Meshes <paramref name="address"/> is in now (for tests and diagnostics).</summary>
    public int MeshesOf(IPAddress address)
    {
        lock (_lock) return _byAddress.TryGetValue(Normalize(address), out var meshes) ? meshes.Count : 0;
    }

    /// <summary>Counts a connection of <paramref name="address"/> (and <paramref name="principal"/>, when auth is on) in
    /// <paramref name="mesh"/>, or says which limit a new mesh would go over.</summary>
    public Claim? TryClaim(IPAddress address, string? principal, string mesh, out Refusal refusal)
    {
        address = Normalize(address);
        lock (_lock)
        {
            refusal = WouldExceed(_byAddress.GetValueOrDefault(address), mesh, _options.MaxMeshesPerAddress) ? Refusal.AddressFull
                : principal is not null && WouldExceed(_byPrincipal.GetValueOrDefault(principal), mesh, _options.MaxMeshesPerPrincipal) ? Refusal.PrincipalFull
                : Refusal.None;
            if (refusal != Refusal.None) return null;
            Add(_byAddress, address, mesh);
            if (principal is not null) Add(_byPrincipal, principal, mesh);
        }
        return new Claim(this, address, principal, mesh);
    }

    private static bool WouldExceed(Dictionary<string, int>? meshes, string mesh, int max) =>
        meshes is not null && !meshes.ContainsKey(mesh) && meshes.Count >= max;

    private static void Add<TKey>(Dictionary<TKey, Dictionary<string, int>> table, TKey key, string mesh) where TKey : notnull
    {
        if (!table.TryGetValue(key, out var meshes)) table[key] = meshes = new Dictionary<string, int>(StringComparer.Ordinal);
        meshes[mesh] = meshes.GetValueOrDefault(mesh) + 1;
    }

    private static void Remove<TKey>(Dictionary<TKey, Dictionary<string, int>> table, TKey key, string mesh) where TKey : notnull
    {
        var meshes = table[key];
        if (--meshes[mesh] == 0) meshes.Remove(mesh);
        if (meshes.Count == 0) table.Remove(key);
    }

    private void Release(IPAddress address, string? principal, string mesh)
    {
        lock (_lock)
        {
            Remove(_byAddress, address, mesh);
            if (principal is not null) Remove(_byPrincipal, principal, mesh);
        }
    }

    // An IPv4 client may arrive as ::ffff:a.b.c.d on a dual-stack socket: one client, one count.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>One connection's place in the counts; disposing it (once or more) gives it back once.</summary>
    public sealed class Claim(MeshQuota owner, IPAddress address, string? principal, string mesh) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(address, principal, mesh);
        }
    }
}

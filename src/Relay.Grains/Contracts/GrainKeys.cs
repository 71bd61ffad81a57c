namespace Relay.Grains.Contracts;

/// <summary>
/// Grain keys. Mesh names are restricted (see <see cref="IsValidMesh"/>) so that "mesh/peer" splits
/// unambiguously at the first '/', whatever characters the peer id holds.
/// </summary>
public static class GrainKeys
{
    public const int MaxMeshLength = 128;

    public static string Peer(string mesh, string peerId) => string.Concat(mesh, "/", peerId);

    public static (string Mesh, string PeerId) SplitPeer(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return (key[..slash], key[(slash + 1)..]);
    }

    public static bool IsValidMesh(string? mesh)
    {
        if (string.IsNullOrEmpty(mesh) || mesh.Length > MaxMeshLength) return false;
        foreach (var c in mesh)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')) return false;
        }
        return true;
    }
}

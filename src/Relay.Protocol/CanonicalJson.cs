using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// Hash of a frame's (type, data) that ignores how the JSON was spelled: whitespace, string escaping
/// (<c>\u00e9</c> vs <c>é</c>, <c>\/</c> vs <c>/</c>) and number spelling (<c>1.0</c>, <c>1</c>, <c>1e0</c>).
/// Property order counts: the clients re-serialize what they receive preserving it. Used by echo
/// suppression, where the same value may be computed on different nodes, hence XxHash3 (stable everywhere).
/// </summary>
public static class CanonicalJson
{
    /// <summary>
    /// The hash of <paramref name="type"/> and one JSON value <paramref name="dataJson"/> (empty: absent
    /// data). Equals <see cref="ParsedFrame.DataHash"/> of a frame with that type and data.
    /// </summary>
    /// <exception cref="JsonException"><paramref name="dataJson"/> is not exactly one JSON value.</exception>
    public static ulong Hash(string type, ReadOnlySpan<byte> dataJson)
    {
        ArgumentNullException.ThrowIfNull(type);
        var hasher = CanonicalHasher.Start();
        if (!dataJson.IsEmpty)
        {
            var reader = new Utf8JsonReader(dataJson, JsonText.ReaderOptions);
            while (reader.Read())
            {
                hasher.Append(ref reader);
            }
        }

        return hasher.Finish(type);
    }
}

namespace Relay.Protocol;

/// <summary>Whitespace-, escaping- and number-spelling-insensitive hash of a frame's (type, data).</summary>
public static class CanonicalJson
{
    public static ulong Hash(string type, ReadOnlySpan<byte> dataJson)
    {
        _ = type;
        _ = dataJson;
        throw new NotImplementedException();
    }
}

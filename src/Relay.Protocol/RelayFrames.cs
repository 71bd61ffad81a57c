namespace Relay.Protocol;

/// <summary>Frames the relay itself sends. Each call returns a fresh UTF-8 JSON byte array.</summary>
public static class RelayFrames
{
    public const string RelayId = "relay";

    public static byte[] Error(string code, string message, string? to, ReadOnlySpan<byte> turnIdRawJson, double now, ReadOnlySpan<byte> extraDataPropertiesJson = default)
    {
        _ = code;
        _ = message;
        _ = to;
        _ = turnIdRawJson;
        _ = now;
        _ = extraDataPropertiesJson;
        throw new NotImplementedException();
    }

    public static byte[] Presence(string peerId, ReadOnlySpan<byte> metadataJson, double timestamp)
    {
        _ = peerId;
        _ = metadataJson;
        _ = timestamp;
        throw new NotImplementedException();
    }

    public static byte[] Offline(string peerId, double now)
    {
        _ = peerId;
        _ = now;
        throw new NotImplementedException();
    }

    public static byte[] CapabilitiesResponse(string? to, IReadOnlyCollection<string> activeAgents, string mesh, int peerCount, string version, double now)
    {
        _ = to;
        _ = activeAgents;
        _ = mesh;
        _ = peerCount;
        _ = version;
        _ = now;
        throw new NotImplementedException();
    }
}

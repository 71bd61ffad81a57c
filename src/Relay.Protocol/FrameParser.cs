namespace Relay.Protocol;

/// <summary>Reads the fields the relay routes on from one frame in a single pass.</summary>
public static class FrameParser
{
    public static ParsedFrame Parse(ReadOnlySpan<byte> utf8, Func<string, bool>? computeDataHashForType = null)
    {
        _ = utf8;
        _ = computeDataHashForType;
        throw new NotImplementedException();
    }
}

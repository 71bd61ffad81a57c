namespace Relay.Protocol;

/// <summary>Stamps a forwarded frame (protocol.md "Sender stamp" and "Credentials never travel").</summary>
public static class FrameStamper
{
    public static byte[] Stamp(ReadOnlySpan<byte> frame, in ParsedFrame parsed, string senderPeerId, double nowUnixSeconds, CredentialRedactor? redactor)
    {
        _ = frame;
        _ = parsed;
        _ = senderPeerId;
        _ = nowUnixSeconds;
        _ = redactor;
        throw new NotImplementedException();
    }
}

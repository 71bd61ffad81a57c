using System.Text;
using System.Text.Json;
using FsCheck.Xunit;
using Relay.Protocol;

namespace Relay.Tests.Protocol;

/// <summary>
/// Issue #8: the parser and the stamper fed valid frames that were then mutated (bytes flipped, cut out, inserted,
/// repeated, the frame truncated), as a fuzzer would: parsing never throws, and whatever parses is stamped into a
/// frame that parses again as the same type (redacted when the type spells the credential) and is valid JSON.
/// </summary>
[Properties(Arbitrary = [typeof(JsonArbitraries)], MaxTest = 500)]
public class MutatedFrameProperties
{
    private static readonly CredentialRedactor Redactor = CredentialRedactor.Create(["the-secret-token"])!;

    private static readonly byte[] Structural = "{}[]\",:\\ \t\nu0eE-+."u8.ToArray();

    [Property]
    public bool Mutated_frames_never_throw_and_what_parses_stamps_to_valid_json(JsonText json, int[] mutations, byte[] noise, bool redact)
    {
        var frame = Mutate(Encoding.UTF8.GetBytes(json.Text), mutations, noise);
        var parsed = FrameParser.Parse(frame, type => type.Length % 2 == 0);
        if (parsed.Error != ParseError.None)
        {
            return parsed.ErrorDetail is not null;
        }

        var stamped = FrameStamper.Stamp(frame, parsed, "peer-é\"1", 1764049300.5, redact ? Redactor : null);
        using var document = JsonDocument.Parse(stamped);
        var again = FrameParser.Parse(stamped);

        // A type that spells the connection's credential is a string value like any other: it is redacted too.
        var type = redact ? Redactor.Redact(parsed.Type) : parsed.Type;
        return again.Error == ParseError.None && again.Type == type && again.HasTimestamp && again.HasSender;
    }

    /// <summary>Applies one edit per entry of <paramref name="mutations"/>: its value picks the kind and the place.</summary>
    private static byte[] Mutate(byte[] frame, int[] mutations, byte[] noise)
    {
        var bytes = new List<byte>(frame);
        var k = 0;
        foreach (var m in mutations)
        {
            var value = m == int.MinValue ? 0 : Math.Abs(m);
            var at = (value / 6) % (bytes.Count + 1);
            var some = noise.Length == 0 ? (byte)0xFF : noise[k++ % noise.Length];
            switch (value % 6)
            {
                case 0 when at < bytes.Count:
                    bytes[at] ^= some == 0 ? (byte)0x80 : some;
                    break;
                case 1:
                    bytes.RemoveRange(at, Math.Min(1 + (some % 8), bytes.Count - at));
                    break;
                case 2:
                    bytes.InsertRange(at, noise.Take(1 + (some % 16)));
                    break;
                case 3:
                    bytes.InsertRange(at, bytes.Skip(at).Take(1 + (some % 32)).ToList());
                    break;
                case 4:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    if (at < bytes.Count) bytes[at] = Structural[some % Structural.Length];
                    break;
            }
        }

        return [.. bytes];
    }
}

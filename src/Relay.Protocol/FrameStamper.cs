using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// Prepares a client frame for forwarding (protocol.md "Sender stamp" and "Credentials never travel"):
/// <c>sender</c> is set to the sending connection's peer id, a missing <c>from</c> is filled with it
/// (a present one may name an agent of the sender, so it stays), a missing <c>timestamp</c> is filled
/// with server time, and the connection's credentials are redacted from string values.
/// </summary>
public static class FrameStamper
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Peers show these strings to people; keep non-ASCII readable instead of \u-escaping it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,

        // The reader has validated the structure being copied.
        SkipValidation = true,
    };

    /// <summary>
    /// Returns the bytes to forward. Usually (no client <c>sender</c>, nothing to redact) that is the
    /// frame spliced up to its closing brace plus the stamps: one exact-size allocation, every original
    /// byte kept. Otherwise the frame is rewritten token by token, dropping the client's <c>sender</c>
    /// and redacting secrets in string values at any depth (not in property names); values that need no
    /// change keep their original spelling, whitespace between tokens does not survive.
    /// </summary>
    /// <param name="parsed">The frame's successful <see cref="FrameParser.Parse"/> result.</param>
    /// <param name="redactor">The sending connection's credentials, or null when it has none.</param>
    public static byte[] Stamp(ReadOnlySpan<byte> frame, in ParsedFrame parsed, string senderPeerId, double nowUnixSeconds, CredentialRedactor? redactor)
    {
        Span<byte> timestamp = stackalloc byte[UnixTime.MaxFormattedLength];
        var stamps = Prepare(frame, parsed, senderPeerId, nowUnixSeconds, timestamp);
        if (NeedsRewrite(frame, parsed, redactor))
        {
            return Rewrite(frame, stamps, redactor);
        }

        var result = new byte[SplicedLength(frame, parsed, stamps)];
        Splice(frame, parsed, stamps, result);
        return result;
    }

    /// <summary>
    /// <see cref="Stamp"/> for forwarding: the usual splice goes into a pooled <see cref="OutboundFrame"/>, so
    /// stamping allocates nothing; the rare rewrite (client <c>sender</c>, credentials to redact) wraps its array.
    /// The caller owns the returned frame's one reference and releases it once every queue has taken its own.
    /// </summary>
    public static OutboundFrame StampForForwarding(ReadOnlySpan<byte> frame, in ParsedFrame parsed, string senderPeerId, double nowUnixSeconds, CredentialRedactor? redactor)
    {
        Span<byte> timestamp = stackalloc byte[UnixTime.MaxFormattedLength];
        var stamps = Prepare(frame, parsed, senderPeerId, nowUnixSeconds, timestamp);
        if (NeedsRewrite(frame, parsed, redactor))
        {
            return OutboundFrame.Wrap(Rewrite(frame, stamps, redactor));
        }

        var result = OutboundFrame.Rent(SplicedLength(frame, parsed, stamps));
        Splice(frame, parsed, stamps, result.WritableSpan);
        return result;
    }

    private static Stamps Prepare(ReadOnlySpan<byte> frame, in ParsedFrame parsed, string senderPeerId, double nowUnixSeconds, Span<byte> timestamp)
    {
        ArgumentNullException.ThrowIfNull(senderPeerId);
        if (parsed.Error != ParseError.None || parsed.ClosingBrace >= frame.Length || frame[parsed.ClosingBrace] != (byte)'}')
        {
            throw new ArgumentException("Only a successfully parsed frame, with its own bytes, can be stamped.", nameof(parsed));
        }

        var timestampLength = 0;
        if (!parsed.HasTimestamp)
        {
            UnixTime.TryFormat(nowUnixSeconds, timestamp, out timestampLength);
        }

        return new Stamps(senderPeerId, !parsed.HasFrom, timestamp[..timestampLength]);
    }

    private static bool NeedsRewrite(ReadOnlySpan<byte> frame, in ParsedFrame parsed, CredentialRedactor? redactor) =>
        parsed.HasSender || (redactor is not null && redactor.MightContainSecret(frame));

    private static int SplicedLength(ReadOnlySpan<byte> frame, in ParsedFrame parsed, in Stamps stamps)
    {
        var senderLength = JsonText.QuotedLength(stamps.SenderPeerId);
        var length = parsed.ClosingBrace + (parsed.IsEmptyObject ? 0 : 1) + "\"sender\":"u8.Length + senderLength + 1;
        if (stamps.FillFrom)
        {
            length += ",\"from\":"u8.Length + senderLength;
        }

        if (!stamps.Timestamp.IsEmpty)
        {
            length += ",\"timestamp\":"u8.Length + stamps.Timestamp.Length;
        }

        return length;
    }

    /// <summary>The frame up to its closing brace, then the stamps; <paramref name="output"/> holds exactly
    /// <see cref="SplicedLength"/> bytes.</summary>
    private static void Splice(ReadOnlySpan<byte> frame, in ParsedFrame parsed, in Stamps stamps, Span<byte> output)
    {
        var head = frame[..parsed.ClosingBrace];
        head.CopyTo(output);
        var at = head.Length;
        if (!parsed.IsEmptyObject)
        {
            output[at++] = (byte)',';
        }

        at += Append(output[at..], "\"sender\":"u8);
        at += JsonText.WriteString(stamps.SenderPeerId, output[at..]);
        if (stamps.FillFrom)
        {
            at += Append(output[at..], ",\"from\":"u8);
            at += JsonText.WriteString(stamps.SenderPeerId, output[at..]);
        }

        if (!stamps.Timestamp.IsEmpty)
        {
            at += Append(output[at..], ",\"timestamp\":"u8);
            at += Append(output[at..], stamps.Timestamp);
        }

        output[at] = (byte)'}';
    }

    private static byte[] Rewrite(ReadOnlySpan<byte> frame, in Stamps stamps, CredentialRedactor? redactor)
    {
        var buffer = new ArrayBufferWriter<byte>(frame.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            var reader = new Utf8JsonReader(frame, JsonText.ReaderOptions);
            reader.Read();
            writer.WriteStartObject();
            while (reader.Read())
            {
                if (reader.CurrentDepth == 0)
                {
                    // The top-level object's end: stamps go last, as in the fast path.
                    writer.WriteString("sender"u8, stamps.SenderPeerId);
                    if (stamps.FillFrom)
                    {
                        writer.WriteString("from"u8, stamps.SenderPeerId);
                    }

                    if (!stamps.Timestamp.IsEmpty)
                    {
                        writer.WritePropertyName("timestamp"u8);
                        writer.WriteRawValue(stamps.Timestamp, skipInputValidation: true);
                    }

                    writer.WriteEndObject();
                    break;
                }

                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && JsonText.TextEquals(ref reader, "sender"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }

                CopyToken(frame, ref reader, writer, redactor);
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void CopyToken(ReadOnlySpan<byte> frame, ref Utf8JsonReader reader, Utf8JsonWriter writer, CredentialRedactor? redactor)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject: writer.WriteStartObject(); break;
            case JsonTokenType.EndObject: writer.WriteEndObject(); break;
            case JsonTokenType.StartArray: writer.WriteStartArray(); break;
            case JsonTokenType.EndArray: writer.WriteEndArray(); break;
            case JsonTokenType.PropertyName:
                // The writer escapes names itself, so it must get them unescaped.
                if (reader.ValueIsEscaped)
                {
                    writer.WritePropertyName(JsonText.TryGetString(ref reader) ?? "\uFFFD");
                }
                else
                {
                    writer.WritePropertyName(reader.ValueSpan);
                }

                break;
            case JsonTokenType.String:
                var raw = frame.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2);
                if (redactor is not null && redactor.MightContainSecret(reader.ValueSpan))
                {
                    var value = JsonText.TryGetString(ref reader);
                    var redacted = value is null ? null : redactor.Redact(value);
                    if (!ReferenceEquals(redacted, value))
                    {
                        WriteReadableString(writer, redacted!);
                        break;
                    }
                }

                writer.WriteRawValue(raw, skipInputValidation: true);
                break;
            default:
                // Numbers keep their spelling; true/false/null are their own spelling.
                writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
        }
    }

    /// <summary>
    /// Writes a string escaping only what JSON requires: even the relaxed encoder escapes characters
    /// outside the basic multilingual plane (emoji), which peers show to people.
    /// </summary>
    private static void WriteReadableString(Utf8JsonWriter writer, string value)
    {
        var length = JsonText.QuotedLength(value);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        JsonText.WriteString(value, buffer);
        writer.WriteRawValue(buffer.AsSpan(0, length), skipInputValidation: true);
        ArrayPool<byte>.Shared.Return(buffer);
    }

    private static int Append(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private readonly ref struct Stamps(string senderPeerId, bool fillFrom, ReadOnlySpan<byte> timestamp)
    {
        public string SenderPeerId { get; } = senderPeerId;

        public bool FillFrom { get; } = fillFrom;

        /// <summary>The formatted time to add; empty when the client sent its own timestamp.</summary>
        public ReadOnlySpan<byte> Timestamp { get; } = timestamp;
    }
}

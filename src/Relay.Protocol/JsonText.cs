using System.Text;
using System.Text.Json;

namespace Relay.Protocol;

/// <summary>Low-level JSON text helpers shared by the parser, the stamper and the frame builder.</summary>
internal static class JsonText
{
    /// <summary>Reader options for every frame: RFC 8259 strict, nesting limited to 64.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>UTF-8 length of <paramref name="value"/> as a quoted JSON string (see <see cref="WriteString"/>).</summary>
    public static int QuotedLength(string value)
    {
        var length = 2;
        var run = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var escape = EscapeLength(value[i]);
            if (escape == 0)
            {
                continue;
            }

            length += Encoding.UTF8.GetByteCount(value.AsSpan(run, i - run)) + escape;
            run = i + 1;
        }

        return length + Encoding.UTF8.GetByteCount(value.AsSpan(run));
    }

    /// <summary>
    /// Writes <paramref name="value"/> as a quoted JSON string, escaping only what JSON requires
    /// (quote, backslash, control characters), so non-ASCII stays readable. Returns the bytes written;
    /// the destination must hold <see cref="QuotedLength"/> bytes.
    /// </summary>
    public static int WriteString(string value, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        var written = 1;
        var run = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (EscapeLength(c) == 0)
            {
                continue;
            }

            written += Encoding.UTF8.GetBytes(value.AsSpan(run, i - run), destination[written..]);
            written += WriteEscape(c, destination[written..]);
            run = i + 1;
        }

        written += Encoding.UTF8.GetBytes(value.AsSpan(run), destination[written..]);
        destination[written++] = (byte)'"';
        return written;
    }

    /// <summary>End (exclusive) of the value token the reader is on, once any container has been skipped to its end token.</summary>
    public static int ValueEnd(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.EndObject or JsonTokenType.EndArray => (int)reader.TokenStartIndex + 1,
        JsonTokenType.String => (int)reader.TokenStartIndex + reader.ValueSpan.Length + 2,
        _ => (int)reader.TokenStartIndex + reader.ValueSpan.Length,
    };

    /// <summary>
    /// <see cref="Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/> that answers false instead of
    /// throwing for a name with a lone-surrogate escape, which JSON allows but .NET cannot decode.
    /// </summary>
    public static bool TextEquals(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8Text)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan.SequenceEqual(utf8Text);
        }

        try
        {
            return reader.ValueTextEquals(utf8Text);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The string token's value, or null when it holds a lone-surrogate escape .NET cannot decode.</summary>
    public static string? TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static int EscapeLength(char c) => c switch
    {
        '"' or '\\' or '\b' or '\f' or '\n' or '\r' or '\t' => 2,
        < ' ' => 6,
        _ => 0,
    };

    private static int WriteEscape(char c, Span<byte> destination)
    {
        destination[0] = (byte)'\\';
        switch (c)
        {
            case '"': destination[1] = (byte)'"'; return 2;
            case '\\': destination[1] = (byte)'\\'; return 2;
            case '\b': destination[1] = (byte)'b'; return 2;
            case '\f': destination[1] = (byte)'f'; return 2;
            case '\n': destination[1] = (byte)'n'; return 2;
            case '\r': destination[1] = (byte)'r'; return 2;
            case '\t': destination[1] = (byte)'t'; return 2;
            default:
                "u00"u8.CopyTo(destination[1..]);
                destination[4] = (byte)"0123456789abcdef"[c >> 4];
                destination[5] = (byte)"0123456789abcdef"[c & 0xF];
                return 6;
        }
    }
}

using System.Buffers;
using System.Text;

namespace Relay.Protocol;

/// <summary>
/// Replaces one connection's credentials in the string values of the frames it sends
/// (protocol.md "Credentials never travel"): clients put their own URL, token included, into
/// <c>relay-log</c> and similar frames that would otherwise reach every peer.
/// </summary>
public sealed class CredentialRedactor
{
    public const string Replacement = "[redacted]";

    /// <summary>Shorter values are not treated as secrets: they would redact ordinary words.</summary>
    public const int MinSecretLength = 8;

    // Longest first, so a variant containing another (encoded vs. plain) is replaced whole.
    private readonly string[] _variants;
    private readonly byte[][] _utf8Variants;

    // Each secret fully decoded, as UTF-8, longest first: matched against text in which any byte may be
    // percent-encoded (either case of hex) and a space may be a '+', since a client may quote its URL in any spelling.
    private readonly byte[][] _decodedUtf8;
    private readonly bool _spaceInSecret;

    // Characters occurring in any variant: only a JSON escape producing one of these can hide a secret.
    private readonly ulong _asciiLow;
    private readonly ulong _asciiHigh;
    private readonly bool _hasNonAscii;

    private CredentialRedactor(string[] variants)
    {
        _variants = variants;
        _utf8Variants = new byte[variants.Length][];
        var decoded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variant in variants)
        {
            AddVariant(decoded, Uri.UnescapeDataString(variant));
        }

        _decodedUtf8 = decoded.OrderByDescending(d => Encoding.UTF8.GetByteCount(d)).ThenBy(d => d, StringComparer.Ordinal)
            .Select(Encoding.UTF8.GetBytes).ToArray();
        _spaceInSecret = decoded.Any(d => d.Contains(' ', StringComparison.Ordinal));
        // Any character of a secret may come percent-encoded, and a space as '+'.
        _asciiLow |= 1UL << '%';
        if (_spaceInSecret)
        {
            _asciiLow |= 1UL << '+';
        }

        for (var i = 0; i < variants.Length; i++)
        {
            _utf8Variants[i] = Encoding.UTF8.GetBytes(variants[i]);
            foreach (var c in variants[i])
            {
                if (c < 64)
                {
                    _asciiLow |= 1UL << c;
                }
                else if (c < 128)
                {
                    _asciiHigh |= 1UL << (c - 64);
                }
                else
                {
                    _hasNonAscii = true;
                }
            }
        }
    }

    /// <summary>The strings replaced, longest first: each secret as given, percent-encoded and percent-decoded.</summary>
    public IReadOnlyList<string> Variants => _variants;

    /// <summary>A redactor for <paramref name="secrets"/>, or null when none is long enough to redact.</summary>
    public static CredentialRedactor? Create(IEnumerable<string?> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var variants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var secret in secrets)
        {
            AddSecret(variants, secret);
        }

        return FromVariants(variants);
    }

    /// <summary>
    /// <paramref name="existing"/> (may be null) extended with one more secret, e.g. a bearer token that arrived
    /// after the upgrade; null when there is still nothing to redact.
    /// </summary>
    public static CredentialRedactor? With(CredentialRedactor? existing, string? secret)
    {
        var variants = new HashSet<string>(existing?._variants ?? [], StringComparer.Ordinal);
        var before = variants.Count;
        AddSecret(variants, secret);
        return variants.Count == before ? existing : FromVariants(variants);
    }

    private static void AddSecret(HashSet<string> variants, string? secret)
    {
        if (secret is null || secret.Length < MinSecretLength)
        {
            return;
        }

        AddVariant(variants, secret);
        AddVariant(variants, Uri.EscapeDataString(secret));
        AddVariant(variants, Uri.UnescapeDataString(secret));
        if (secret.Contains('+', StringComparison.Ordinal))
        {
            // In a query string '+' stands for a space (the relay reads its parameters so): the decoded token has one.
            AddVariant(variants, Uri.UnescapeDataString(secret.Replace('+', ' ')));
        }
    }

    private static CredentialRedactor? FromVariants(HashSet<string> variants)
    {
        if (variants.Count == 0)
        {
            return null;
        }

        var sorted = new string[variants.Count];
        variants.CopyTo(sorted);
        Array.Sort(sorted, static (a, b) => a.Length != b.Length ? b.Length.CompareTo(a.Length) : string.CompareOrdinal(a, b));
        return new CredentialRedactor(sorted);
    }

    /// <summary>
    /// A redactor for a connection's bearer token and the <c>access_token</c>, <c>token</c> and
    /// <c>X-Amz-*</c> parameters (names case-insensitive) of its raw, still percent-encoded upgrade
    /// query string; null when there is nothing to redact.
    /// </summary>
    public static CredentialRedactor? FromQueryString(string? rawQueryString, string? bearerToken)
    {
        var secrets = new List<string?> { bearerToken };
        var query = (rawQueryString ?? string.Empty).AsSpan().TrimStart('?');
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            var equals = pair.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }

            var name = Uri.UnescapeDataString(pair[..equals].ToString());
            if (!IsSecretParameter(name))
            {
                continue;
            }

            var raw = pair[(equals + 1)..].ToString();
            secrets.Add(raw);
            secrets.Add(Uri.UnescapeDataString(raw));
        }

        return Create(secrets);
    }

    /// <summary>
    /// Cheap conservative pre-check on raw JSON: true when a variant's UTF-8 bytes occur, when a
    /// backslash escape decodes to a character some variant contains (a secret may be spelled with
    /// escapes such as <c>\/</c> or <c>\u0041</c>), or when a percent-encoded byte (<c>%61</c>, <c>%2f</c>) or a
    /// '+' could stand for part of a secret. False means the frame certainly needs no redaction.
    /// </summary>
    public bool MightContainSecret(ReadOnlySpan<byte> utf8Frame)
    {
        foreach (var variant in _utf8Variants)
        {
            if (utf8Frame.IndexOf(variant) >= 0)
            {
                return true;
            }
        }

        if (MightHoldEncodedSecret(utf8Frame))
        {
            return true;
        }

        var i = utf8Frame.IndexOf((byte)'\\');
        while (i >= 0)
        {
            if (i + 1 >= utf8Frame.Length)
            {
                return true;
            }

            int decoded;
            var length = 2;
            switch (utf8Frame[i + 1])
            {
                case (byte)'b': decoded = '\b'; break;
                case (byte)'f': decoded = '\f'; break;
                case (byte)'n': decoded = '\n'; break;
                case (byte)'r': decoded = '\r'; break;
                case (byte)'t': decoded = '\t'; break;
                case (byte)'u':
                    if (i + 6 > utf8Frame.Length || !TryParseHex4(utf8Frame.Slice(i + 2, 4), out decoded))
                    {
                        return true;
                    }

                    length = 6;
                    break;
                default: decoded = utf8Frame[i + 1]; break;
            }

            if (MayOccurInSecret(decoded))
            {
                return true;
            }

            var next = utf8Frame[(i + length)..].IndexOf((byte)'\\');
            i = next < 0 ? -1 : i + length + next;
        }

        return false;
    }

    /// <summary>Replaces every occurrence of every variant, and of every secret spelled with any of its bytes
    /// percent-encoded (hex in either case) or a space as '+', with <see cref="Replacement"/>.</summary>
    public string Redact(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        foreach (var variant in _variants)
        {
            if (value.Contains(variant, StringComparison.Ordinal))
            {
                value = value.Replace(variant, Replacement, StringComparison.Ordinal);
            }
        }

        return value.AsSpan().IndexOfAny('%', '+') >= 0 ? RedactEncoded(value) : value;
    }

    private string RedactEncoded(string value)
    {
        StringBuilder? result = null;
        var copied = 0;
        var at = 0;
        while (at < value.Length)
        {
            var end = -1;
            foreach (var secret in _decodedUtf8)
            {
                end = MatchEncoded(value, at, secret);
                if (end >= 0)
                {
                    break;
                }
            }

            if (end < 0)
            {
                at++;
                continue;
            }

            result ??= new StringBuilder(value.Length);
            result.Append(value, copied, at - copied).Append(Replacement);
            copied = at = end;
        }

        return result is null ? value : result.Append(value, copied, value.Length - copied).ToString();
    }

    /// <summary>Where a spelling of <paramref name="secret"/> that starts at <paramref name="start"/> ends, or -1:
    /// each of its bytes as itself, as <c>%XX</c> (either case), a space also as '+'.</summary>
    private static int MatchEncoded(string value, int start, byte[] secret)
    {
        Span<byte> encoded = stackalloc byte[4];
        var at = start;
        var matched = 0;
        while (matched < secret.Length)
        {
            if (at >= value.Length)
            {
                return -1;
            }

            var c = value[at];
            var expected = secret[matched];
            if (c == '%' && at + 2 < value.Length && HexDigit(value[at + 1]) is var high and >= 0
                && HexDigit(value[at + 2]) is var low and >= 0 && ((high << 4) | low) == expected)
            {
                at += 3;
                matched++;
            }
            else if (c == '+' && expected == (byte)' ')
            {
                at++;
                matched++;
            }
            else if (c < 0x80)
            {
                if (c != expected)
                {
                    return -1;
                }

                at++;
                matched++;
            }
            else
            {
                if (Rune.DecodeFromUtf16(value.AsSpan(at), out var rune, out var used) != OperationStatus.Done)
                {
                    return -1;
                }

                var length = rune.EncodeToUtf8(encoded);
                if (matched + length > secret.Length || !secret.AsSpan(matched, length).SequenceEqual(encoded[..length]))
                {
                    return -1;
                }

                at += used;
                matched += length;
            }
        }

        return at;
    }

    /// <summary>A <c>%XX</c> whose byte some secret contains, or a '+' when some secret has a space.</summary>
    private bool MightHoldEncodedSecret(ReadOnlySpan<byte> utf8Frame)
    {
        if (_spaceInSecret && utf8Frame.IndexOf((byte)'+') >= 0)
        {
            return true;
        }

        var i = utf8Frame.IndexOf((byte)'%');
        while (i >= 0)
        {
            if (i + 2 < utf8Frame.Length && HexDigit(utf8Frame[i + 1]) is var high and >= 0 && HexDigit(utf8Frame[i + 2]) is var low and >= 0
                && MayOccurInSecret((high << 4) | low))
            {
                return true;
            }

            var next = utf8Frame[(i + 1)..].IndexOf((byte)'%');
            i = next < 0 ? -1 : i + 1 + next;
        }

        return false;
    }

    private static void AddVariant(HashSet<string> variants, string variant)
    {
        if (variant.Length >= MinSecretLength)
        {
            variants.Add(variant);
        }
    }

    private static bool IsSecretParameter(string name) =>
        name.Equals("access_token", StringComparison.OrdinalIgnoreCase)
        || name.Equals("token", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("X-Amz-", StringComparison.OrdinalIgnoreCase);

    private bool MayOccurInSecret(int c) => c switch
    {
        < 64 => (_asciiLow & (1UL << c)) != 0,
        < 128 => (_asciiHigh & (1UL << (c - 64))) != 0,
        _ => _hasNonAscii,
    };

    private static bool TryParseHex4(ReadOnlySpan<byte> hex, out int value)
    {
        value = 0;
        foreach (var b in hex)
        {
            var digit = HexDigit(b);
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | digit;
        }

        return true;
    }

    private static int HexDigit(byte b) => HexDigit((char)b);

    private static int HexDigit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}

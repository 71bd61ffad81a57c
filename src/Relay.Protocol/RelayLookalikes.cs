using System.Globalization;
using System.Text;

namespace Relay.Protocol;

/// <summary>
/// Names a person would read as the relay's own <see cref="RelayFrames.RelayId"/> (protocol.md "Frames that claim to be
/// the relay"): <c>relay</c> in any case, with invisible characters (Unicode format and control characters, such as
/// zero-width spaces, bidi controls, the soft hyphen and the BOM) anywhere, white space at either end, and letters in
/// compatibility forms (full width, mathematical, circled, superscript) that NFKC folds to r, e, l, a or y. Clients
/// show and trust <c>from</c>, so no client may send a frame under such a name.
/// </summary>
public static class RelayLookalikes
{
    // The relay runs with invariant globalization (no ICU), where string.Normalize leaves non-ASCII text as it is; and
    // only five letters matter here. So: every code point whose NFKC form is one of r, e, l, a, y (either case), from
    // Unicode 14.0.0's tables, sorted, with the lower-case letter it folds to at the same index.
    private static readonly int[] CompatibilityCodePoints = [0xAA, 0x2B3, 0x2B8, 0x2E1, 0x1D2C, 0x1D31, 0x1D38, 0x1D3F, 0x1D43, 0x1D49, 0x1D63, 0x2090, 0x2091, 0x2097, 0x2112, 0x2113, 0x211B, 0x211C, 0x211D, 0x212F, 0x2130, 0x2147, 0x216C, 0x217C, 0x24B6, 0x24BA, 0x24C1, 0x24C7, 0x24CE, 0x24D0, 0x24D4, 0x24DB, 0x24E1, 0x24E8, 0xFF21, 0xFF25, 0xFF2C, 0xFF32, 0xFF39, 0xFF41, 0xFF45, 0xFF4C, 0xFF52, 0xFF59, 0x1D400, 0x1D404, 0x1D40B, 0x1D411, 0x1D418, 0x1D41A, 0x1D41E, 0x1D425, 0x1D42B, 0x1D432, 0x1D434, 0x1D438, 0x1D43F, 0x1D445, 0x1D44C, 0x1D44E, 0x1D452, 0x1D459, 0x1D45F, 0x1D466, 0x1D468, 0x1D46C, 0x1D473, 0x1D479, 0x1D480, 0x1D482, 0x1D486, 0x1D48D, 0x1D493, 0x1D49A, 0x1D49C, 0x1D4B4, 0x1D4B6, 0x1D4C1, 0x1D4C7, 0x1D4CE, 0x1D4D0, 0x1D4D4, 0x1D4DB, 0x1D4E1, 0x1D4E8, 0x1D4EA, 0x1D4EE, 0x1D4F5, 0x1D4FB, 0x1D502, 0x1D504, 0x1D508, 0x1D50F, 0x1D51C, 0x1D51E, 0x1D522, 0x1D529, 0x1D52F, 0x1D536, 0x1D538, 0x1D53C, 0x1D543, 0x1D550, 0x1D552, 0x1D556, 0x1D55D, 0x1D563, 0x1D56A, 0x1D56C, 0x1D570, 0x1D577, 0x1D57D, 0x1D584, 0x1D586, 0x1D58A, 0x1D591, 0x1D597, 0x1D59E, 0x1D5A0, 0x1D5A4, 0x1D5AB, 0x1D5B1, 0x1D5B8, 0x1D5BA, 0x1D5BE, 0x1D5C5, 0x1D5CB, 0x1D5D2, 0x1D5D4, 0x1D5D8, 0x1D5DF, 0x1D5E5, 0x1D5EC, 0x1D5EE, 0x1D5F2, 0x1D5F9, 0x1D5FF, 0x1D606, 0x1D608, 0x1D60C, 0x1D613, 0x1D619, 0x1D620, 0x1D622, 0x1D626, 0x1D62D, 0x1D633, 0x1D63A, 0x1D63C, 0x1D640, 0x1D647, 0x1D64D, 0x1D654, 0x1D656, 0x1D65A, 0x1D661, 0x1D667, 0x1D66E, 0x1D670, 0x1D674, 0x1D67B, 0x1D681, 0x1D688, 0x1D68A, 0x1D68E, 0x1D695, 0x1D69B, 0x1D6A2, 0x1F12C, 0x1F130, 0x1F134, 0x1F13B, 0x1F141, 0x1F148];
    private const string CompatibilityLetters = "arylaelraeraelllrrreeellaelryaelryaelryaelryaelryaelryaelryaelryaelryaelryayalryaelryaelryaelyaelryaelyaelryaelryaelryaelryaelryaelryaelryaelryaelryaelryaelryaelryaelryraelry";

    /// <summary>True when <paramref name="name"/> reads as <c>relay</c>.</summary>
    /// <remarks>Printable ASCII, what real peer ids and agent names are, is decided without allocating; only a name
    /// with other characters is folded.</remarks>
    public static bool IsRelayLike(string? name)
    {
        if (name is null)
        {
            return false;
        }

        if (IsRelay(name))
        {
            return true;
        }

        if (IsPrintableAsciiWithoutSpace(name))
        {
            return false;
        }

        return IsRelay(Folded(name).AsSpan().Trim());
    }

    private static bool IsRelay(ReadOnlySpan<char> name) =>
        name.Length == RelayFrames.RelayId.Length && name.Equals(RelayFrames.RelayId, StringComparison.OrdinalIgnoreCase);

    private static bool IsPrintableAsciiWithoutSpace(string name)
    {
        foreach (var c in name)
        {
            if (c is <= ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><paramref name="name"/> without format and control characters, compatibility letters folded.</summary>
    private static string Folded(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var rune in name.EnumerateRunes())
        {
            // A lone surrogate comes out as U+FFFD, which reads as nothing like a letter.
            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.Control)
            {
                continue;
            }

            var at = Array.BinarySearch(CompatibilityCodePoints, rune.Value);
            if (at >= 0)
            {
                builder.Append(CompatibilityLetters[at]);
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }

        return builder.ToString();
    }
}

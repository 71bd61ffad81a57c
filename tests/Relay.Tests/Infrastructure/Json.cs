using System.Text;
using System.Text.Json;

namespace Relay.Tests.Infrastructure;

/// <summary>Small helpers shared by the protocol tests.</summary>
internal static class Json
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);

    public static JsonElement Parse(byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        return document.RootElement.Clone();
    }

    /// <summary>Top-level property names in order, duplicates included.</summary>
    public static List<string> PropertyNames(byte[] utf8)
    {
        var names = new List<string>();
        foreach (var property in Parse(utf8).EnumerateObject())
        {
            names.Add(property.Name);
        }

        return names;
    }
}

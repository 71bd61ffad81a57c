using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Relay.Protocol;

namespace Relay.Tests.Protocol;

/// <summary>Generators of JSON text: frames that parse, and near-misses that must not crash anything.</summary>
public static class JsonArbitraries
{
    private static readonly string[] Keys = ["type", "from", "to", "targetInstanceId", "sender", "timestamp", "turnId", "data", "token", "agents", "name", "x", "t\\u0079pe", "é"];

    private static readonly string[] Types = ["presence", "heartbeat", "direct", "capabilities", "auth", "broadcast", "stream", "invoke", "ring-update", "relay-log", "custom"];

    private static readonly string[] Pieces = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u00e9", "\\ud800", "1", "-0.5e3", "true", "null", " ", "\"type\"", "\"presence\"", "\"agents\"", "\u00e9", "😀"];

    public static Arbitrary<JsonText> Json() => Arb.From(Gen.Sized(size => Object(Math.Min(size, 12))).Select(text => new JsonText(text)));

    public static Arbitrary<JsonNearMiss> NearMiss() =>
        Arb.From(Gen.ListOf(Gen.Elements(Pieces)).Select(pieces => new JsonNearMiss(string.Concat(pieces))));

    private static Gen<string> Object(int size) =>
        Gen.ListOf(Property(size), Math.Max(1, size / 2))
            .Select(properties => "{" + string.Join(",", properties) + "}");

    private static Gen<string> Property(int size) =>
        Gen.OneOf(
            Gen.Elements(Types).Select(t => "\"type\":\"" + t + "\""),
            Gen.Zip(Gen.Elements(Keys), Value(size)).Select(kv => "\"" + kv.Item1 + "\" : " + kv.Item2));

    private static Gen<string> Value(int size)
    {
        var scalar = Gen.OneOf(
            Gen.Elements("null", "true", "false", "0", "-1.5e3", "12345678901234567890", "1E400", "\"\"", "\"a\\\"b\"", "\"caf\\u00e9 \\/\"", "\"\\ud800\"", "\"😀\"", "\"see the-secret-token\"", "\"the\\u002dsecret-token\""),
            ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => JsonSerializer.Serialize(s.Get)));
        if (size <= 0)
        {
            return scalar;
        }

        return Gen.Frequency(
            (4, scalar),
            (1, Gen.ListOf(Value(size / 2), size / 2).Select(items => "[" + string.Join(",", items) + "]")),
            (1, Object(size / 2)));
    }
}

public sealed record JsonText(string Text);

public sealed record JsonNearMiss(string Text);

[Properties(Arbitrary = [typeof(JsonArbitraries)], MaxTest = 300)]
public class ProtocolProperties
{
    private static readonly CredentialRedactor Redactor = CredentialRedactor.Create(["the-secret-token"])!;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    [Property]
    public void Parse_never_throws_for_any_bytes(byte[] bytes)
    {
        FrameParser.Parse(bytes, _ => true);
    }

    [Property]
    public void Parse_never_throws_for_any_string(NonNull<string> text)
    {
        FrameParser.Parse(Encoding.UTF8.GetBytes(text.Get), _ => true);
    }

    [Property]
    public void Parse_never_throws_for_near_json(JsonNearMiss text)
    {
        FrameParser.Parse(Encoding.UTF8.GetBytes(text.Text), type => type.Length % 2 == 0);
    }

    [Property]
    public bool Stamped_output_of_any_parsed_frame_is_valid_json(JsonText json, bool redact)
    {
        var frame = Encoding.UTF8.GetBytes(json.Text);
        var parsed = FrameParser.Parse(frame);
        if (parsed.Error != ParseError.None)
        {
            return true;
        }

        var stamped = FrameStamper.Stamp(frame, parsed, "peer \"1\"", 1764049300.123, redact ? Redactor : null);

        using var document = JsonDocument.Parse(stamped);
        var sender = default(string);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.NameEquals("sender"))
            {
                sender = property.Value.GetString();
            }
        }

        var again = FrameParser.Parse(stamped);
        return sender == "peer \"1\"" && again.Error == ParseError.None && again.HasTimestamp && again.HasFrom && (again.From is not null || parsed.HasFrom)
            && (!redact || !AnyStringContains(document.RootElement, "the-secret-token"));
    }

    private static bool AnyStringContains(JsonElement element, string text) => element.ValueKind switch
    {
        JsonValueKind.String => Decoded(element).Contains(text, StringComparison.Ordinal),
        JsonValueKind.Array => element.EnumerateArray().Any(item => AnyStringContains(item, text)),
        JsonValueKind.Object => element.EnumerateObject().Any(property => AnyStringContains(property.Value, text)),
        _ => false,
    };

    /// <summary>The string's value; the raw text for a lone surrogate, which .NET cannot decode.</summary>
    private static string Decoded(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return element.GetRawText();
        }
    }

    [Property]
    public bool Parser_hash_equals_standalone_hash(JsonText json)
    {
        var frame = Encoding.UTF8.GetBytes(json.Text);
        var parsed = FrameParser.Parse(frame, _ => true);
        if (parsed.Error != ParseError.None)
        {
            return true;
        }

        return parsed.DataHash == CanonicalJson.Hash(parsed.Type, frame.AsSpan()[parsed.Data]);
    }

    [Property]
    public bool Hash_ignores_reserialization(JsonText json)
    {
        var frame = Encoding.UTF8.GetBytes(json.Text);
        var parsed = FrameParser.Parse(frame, _ => true);
        if (parsed.Error != ParseError.None || parsed.DataKind == JsonValueKind.Undefined)
        {
            return true;
        }

        // Re-serializing through JsonDocument changes whitespace and escaping, not meaning.
        // (It cannot write lone surrogates, which JSON allows; those frames prove nothing here.)
        var data = frame.AsSpan()[parsed.Data].ToArray();
        using var document = JsonDocument.Parse(data);
        byte[] rewritten;
        try
        {
            rewritten = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(document.RootElement, Indented));
        }
        catch (JsonException)
        {
            return true;
        }

        return CanonicalJson.Hash(parsed.Type, rewritten) == parsed.DataHash;
    }
}

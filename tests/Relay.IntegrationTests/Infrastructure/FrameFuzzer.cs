using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A seeded generator of malformed and adversarial frames, each paired with the answer protocol.md requires
/// (<see cref="FuzzFrame"/>). Every frame is built to be wrong in one known way (or to be valid but odd), so the
/// expected answer follows from how it was built, not from re-implementing the relay's parser.
/// </summary>
/// <param name="maxFrameBytes">The relay's <c>Relay:MaxFrameBytes</c>.</param>
/// <param name="maxMetadataBytes">The relay's <c>Relay:MaxMetadataBytes</c>.</param>
/// <param name="maxPeerIdLength">The relay's <c>Relay:MaxPeerIdLength</c>.</param>
public sealed class FrameFuzzer(string name, Random random, int maxFrameBytes, int maxMetadataBytes, int maxPeerIdLength)
{
    /// <summary>Prefix of ids nobody registers: directs to them are always <c>unknown_target</c>.</summary>
    public const string NobodyPrefix = "nobody-";

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] OddPieces =
    [
        "a", "Z", "7", "-", "_", " ", "\"", "\\", "/", "'", "`", "<script>", "%00", "%2F", "?&=#", "{}", "[]", ":", ",",
        "é", "ß", "中", "😀", "\u200b", "\u202e", "\u00a0", "\ufeff", "\ufffd", "\U0001F9EA", "..", "~", "relay",
    ];

    private static readonly string[] RoutedTypes =
        ["chat", "stream", "ack", "turn_end", "relay-log", "error", "capabilities_response", "invoke", "ring-update", "broadcast", "x-é-😀", " "];

    /// <summary>Spellings a person reads as "relay".</summary>
    private static readonly string[] RelayLookalikes =
        ["relay", "RELAY", "Relay", "re\u200blay", "\u202erelay", "relay\ufeff", "\u2066relay\u2069", "ｒｅｌａｙ", " relay"];

    private static readonly string[] WrongKinds =
    [
        "0", "-0", "42", "1e400", "-1.5e-400", "123456789012345678901234567890123456789", "true", "false", "{}", """{"a":[1,2]}""", "[]", """["x"]""",
        "\"\\ud800\"",
    ];

    private static readonly string[] NotJson =
    [
        "", " ", "hello", "{", "}", "{'type':'chat'}", """{"type":"chat",}""", """{"type":"chat"}{}""", "NaN", """{"type":"chat" "x":1}""",
        """{"type":chat}""", """{"type":"chat"} x""", """{"type":"chat","data":01}""", """{"type":"chat","data":.5}""",
        """{"type":"chat","data":+1}""", """{"type":"chat","data":Infinity}""", """{"type":"chat","data":"\x41"}""",
        """/* c */{"type":"chat"}""", """{"type":"chat","data":[1,2,]}""", """{"type":"chat","data":tru}""", """{"type":"chat"}]""",
        """{"type" "chat"}""", """{type:"chat"}""", """{"type":"chat","data":"unterminated}""", "\"unterminated",
    ];

    private static readonly string[] NotAnObject =
        ["[1,2]", "\"s\"", "42", "null", "true", "false", "[]", """[{"type":"chat"}]""", "1e400", "-0", "\"\\ud800\"", "  [ ]  "];

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xFE], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xBF, 0x41], [0xC3, 0x28],
        [0xE2, 0x82, 0x28], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ];

    private int _next;

    private const int MalformedKinds = 8;

    /// <summary>Frames that are broken whoever sends them: the same answer for registered and unregistered senders.</summary>
    private FuzzFrame Malformed(int kind) => kind switch
    {
        0 => Truncated(),
        1 => DeeplyNested(),
        2 => NotAnObjectFrame(),
        3 => WrongType(),
        4 => WrongField(),
        5 => RawControlCharacter(),
        6 => NotJsonFrame(),
        _ => Binary(),
    };

    /// <summary>A frame for a connection registered as <paramref name="ownId"/>.</summary>
    public FuzzFrame NextForRegistered(string ownId) => MaybeFragmented(random.Next(18) switch
    {
        < MalformedKinds and var kind => Malformed(kind),
        8 or 9 => Routed(),
        10 => UnknownDirect(),
        11 => Text(Json("presence", ownId, $$"""{"agents":[],"n":{{random.Next()}}}"""), null, "presence again (rebroadcast)"),
        12 => Text(Json("presence", ownId, NonObjectData()), "invalid_presence", "presence with non-object data"),
        13 => Text(Json("presence", NewOddId(), "{}"), "id_change", "presence with another id"),
        14 => InvalidPresence(),
        15 => Capabilities(),
        16 => Text(Json(random.Next(2) == 0 ? "heartbeat" : "auth", Maybe(OddId()), OddValue(3)), null, "heartbeat or auth"),
        _ => HugeNumbers(null),
    });

    /// <summary>A frame for a connection that never registered (it never sends a usable presence).</summary>
    public FuzzFrame NextForUnregistered() => MaybeFragmented(random.Next(16) switch
    {
        < MalformedKinds and var kind => Malformed(kind),
        8 => Routed() with { Answer = "not_registered" },
        9 => UnknownDirect() with { Answer = "not_registered" },
        10 => Text(Json("presence", NewOddId(), NonObjectData()), "invalid_presence", "presence with non-object data"),
        11 => TooLargeMetadata(),
        12 or 13 => InvalidPresence(),
        14 => Capabilities(),
        _ => HugeNumbers("not_registered"),
    });

    /// <summary>A text frame of exactly the maximum size that is not JSON: answered, not closed.</summary>
    public FuzzFrame LargestInvalid()
    {
        var payload = new byte[maxFrameBytes];
        payload.AsSpan().Fill((byte)' ');
        "{\"type\":\"chat\",\"data\":"u8.CopyTo(payload);
        payload[^1] = (byte)'x';
        return Fragmented(new FuzzFrame(payload, WebSocketMessageType.Text, [], "invalid_json", null, "largest allowed frame, not JSON"));
    }

    /// <summary>A message the relay must answer by closing the socket: invalid UTF-8 in a text message (1007) or one
    /// byte over the maximum frame size (1009), text or binary, whole or fragmented.</summary>
    public FuzzFrame Closing()
    {
        if (random.Next(2) == 0)
        {
            var prefix = Encoding.UTF8.GetBytes($$"""{"type":"chat","data":{"text":"{{Pick(OddPieces)}}""");
            var bad = Pick(InvalidUtf8);
            var suffix = "\"}}"u8.ToArray();
            byte[] payload = [.. prefix, .. bad, .. suffix];
            return MaybeFragmented(new FuzzFrame(payload, WebSocketMessageType.Text, [], null, WebSocketCloseStatus.InvalidPayloadData,
                $"invalid UTF-8 {Convert.ToHexString(bad)}"));
        }

        var oversize = new byte[maxFrameBytes + 1];
        oversize.AsSpan().Fill((byte)' ');
        "{\"type\":\"chat\"}"u8.CopyTo(oversize);
        var kind = random.Next(2) == 0 ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        var frame = new FuzzFrame(oversize, kind, [], null, WebSocketCloseStatus.MessageTooBig, "one byte over the maximum frame size");
        return random.Next(2) == 0 ? frame : Fragmented(frame);
    }

    /// <summary>A peer id no other fuzzer hands out (its name is in it), odd characters after the prefix. Two fuzzers
    /// handing out the same id would make one peer of two connections, and count its offline twice.</summary>
    public string NewOddId() => $"fz{name}.{_next++}-{OddId()}";

    /// <summary>Odd pieces, never a spelling of "relay" (the pieces "relay" with only invisible ones and white space
    /// around it): those are refused, and <see cref="Routed"/> picks them on purpose.</summary>
    private string OddId()
    {
        while (true)
        {
            var builder = new StringBuilder();
            var visible = new StringBuilder();
            var count = random.Next(1, 8);
            for (var i = 0; i < count; i++)
            {
                var piece = Pick(OddPieces);
                builder.Append(piece);
                if (piece is not ("\u200b" or "\u202e" or "\ufeff")) visible.Append(piece);
            }
            if (!visible.ToString().Trim().Equals("relay", StringComparison.OrdinalIgnoreCase)) return builder.ToString();
        }
    }

    private FuzzFrame Truncated()
    {
        var whole = Json(Pick(RoutedTypes), OddId(), OddValue(4));
        // Cut between characters (never inside a surrogate pair): the rest stays valid UTF-8, only the JSON breaks.
        var cut = random.Next(whole.Length);
        if (cut > 0 && char.IsHighSurrogate(whole[cut - 1])) cut--;
        return Text(whole[..cut], "invalid_json", "truncated JSON");
    }

    private FuzzFrame DeeplyNested()
    {
        // The relay reads at most 64 levels of nesting.
        var depth = random.Next(65, 3000);
        var (open, close) = random.Next(2) == 0 ? ("[", "]") : ("{\"a\":", "}");
        var nested = string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth));
        return random.Next(3) == 0
            ? Text(nested, "invalid_json", "deeply nested, not an object")
            : Text(Json(Pick(RoutedTypes), null, nested), "invalid_json", $"data nested {depth} deep");
    }

    private FuzzFrame NotAnObjectFrame() => Text(Pick(NotAnObject), "not_an_object", "JSON but not an object");

    private FuzzFrame WrongType() => random.Next(4) switch
    {
        0 => Text(Json(null, OddId(), "{}"), "missing_type", "no type"),
        1 => Text("{\"type\":null,\"data\":{}}", "missing_type", "type null"),
        2 => Text("{\"type\":\"\",\"data\":{}}", "missing_type", "empty type"),
        _ => Text($"{{\"type\":{Pick(WrongKinds)},\"data\":{{}}}}", "missing_type", "type of another kind"),
    };

    private FuzzFrame WrongField()
    {
        var field = Pick(["from", "to", "targetInstanceId"]);
        var type = Pick(["chat", "direct", "presence", "heartbeat", "capabilities", "stream"]);
        return Text($"{{\"type\":\"{type}\",\"{field}\":{Pick(WrongKinds)},\"data\":{{}}}}", "invalid_field", $"{field} of another kind");
    }

    private FuzzFrame RawControlCharacter()
    {
        // JSON forbids raw control characters inside strings, and outside them only tab, CR and LF are whitespace.
        char[] forbidden = [.. Enumerable.Range(0, 32).Select(c => (char)c).Where(c => c is not ('\t' or '\n' or '\r'))];
        var c = Pick(forbidden);
        return random.Next(2) == 0
            ? Text($"{{\"type\":\"chat\",\"data\":{{\"text\":\"a{c}b\"}}}}", "invalid_json", $"raw U+{(int)c:X4} in a string")
            : Text($"{{\"type\":\"chat\",{c}\"data\":1}}", "invalid_json", $"raw U+{(int)c:X4} between fields");
    }

    private FuzzFrame NotJsonFrame()
    {
        var text = random.Next(3) == 0 ? "x" + OddId() : Pick(NotJson);
        return Text(text, "invalid_json", "not JSON");
    }

    private FuzzFrame Binary()
    {
        byte[] payload;
        if (random.Next(3) == 0)
        {
            payload = Encoding.UTF8.GetBytes(Json("chat", null, "{}")); // a valid frame, but binary
        }
        else
        {
            payload = new byte[random.Next(0, 4096)];
            random.NextBytes(payload);
        }

        return new FuzzFrame(payload, WebSocketMessageType.Binary, [], "binary_frame", null, "binary message");
    }

    /// <summary>A valid frame of a routed type with odd contents (odd ids, any data): forwarded, not answered; or one
    /// claiming to be the relay (its type, or a from that reads as "relay"): refused.</summary>
    private FuzzFrame Routed()
    {
        var lookalike = random.Next(3) == 0;
        var from = lookalike ? Pick(RelayLookalikes) : random.Next(2) == 0 ? OddId() : null;
        var type = Pick(RoutedTypes);
        // A relay-only type is refused before its from is looked at (protocol.md "Frames that claim to be the relay").
        var answer = type is "capabilities_response" ? "reserved_type" : lookalike ? "reserved_sender" : null;
        return Text(Json(type, from, OddValue(5), ("sender", "\"forged\""), ("turnId", OddValue(1))), answer,
            answer is null ? "routed frame with odd contents" : $"routed frame claiming to be the relay ({answer})");
    }

    private FuzzFrame UnknownDirect()
    {
        var to = random.Next(4) == 0 ? null : NobodyPrefix + OddId();
        var extra = random.Next(2) == 0 ? ("targetInstanceId", JsonSerializer.Serialize(NobodyPrefix + OddId(), Relaxed)) : ("turnId", "7");
        return Text(Json("direct", null, OddValue(2), ("to", to is null ? "null" : JsonSerializer.Serialize(to, Relaxed)), extra),
            "unknown_target", "direct to nobody");
    }

    private FuzzFrame InvalidPresence() => random.Next(6) switch
    {
        0 => Text(Json("presence", "relay", "{}"), "reserved_id", "presence from \"relay\""),
        1 => Text(Json("presence", "", "{}"), "invalid_presence", "presence from \"\""),
        2 => Text(Json("presence", null, "{}"), "invalid_presence", "presence without from"),
        3 => Text(Json("presence", new string('x', maxPeerIdLength + 1), "{}"), "invalid_presence", "presence id too long"),
        4 => Text(Json("presence", "ctl-" + (char)random.Next(0, 32) + OddId(), "{}"), "invalid_presence", "presence id with a control character"),
        _ => Text($"{{\"type\":\"presence\",\"from\":{Pick(WrongKinds)},\"data\":{{}}}}", "invalid_field", "presence from of another kind"),
    };

    private FuzzFrame TooLargeMetadata()
    {
        var data = $"{{\"pad\":\"{new string('m', maxMetadataBytes)}\"}}";
        return Text(Json("presence", NewOddId(), data), "metadata_too_large", "presence data over the metadata limit");
    }

    private FuzzFrame Capabilities() =>
        Text(Json(Pick(["capabilities", "capabilities_request"]), Maybe(OddId()), OddValue(2)), FuzzFrame.CapabilitiesAnswer, "capabilities");

    private FuzzFrame HugeNumbers(string? answer)
    {
        var digits = new string('9', random.Next(20, 5000));
        var data = $"{{\"big\":{digits},\"tiny\":-0.{digits}e-99999,\"exp\":1e{digits}}}";
        return Text(Json("chat", null, data, ("timestamp", "1e" + digits)), answer, "huge numbers");
    }

    private string NonObjectData() => Pick(["null", "[]", "\"text\"", "42", "true", "[{\"agents\":[\"x\"]}]"]);

    private string? Maybe(string value) => random.Next(2) == 0 ? value : null;

    /// <summary>Any JSON value up to <paramref name="depth"/> levels: odd strings (escaped control characters,
    /// unicode, lone surrogate escapes), huge numbers, nested arrays and objects.</summary>
    private string OddValue(int depth)
    {
        var choice = random.Next(depth <= 0 ? 6 : 8);
        return choice switch
        {
            0 => JsonSerializer.Serialize(OddId(), random.Next(2) == 0 ? Relaxed : JsonSerializerOptions.Default),
            1 => Pick(["\"\\u0000\\u0001\\u001f\\t\\n\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\/\\b\\f\"", "\"\""]),
            2 => Pick(["0", "-0", "1e308", "1e400", "-1e-400", "123456789012345678901234567890", "3.14159265358979323846264338327950288"]),
            3 => Pick(["true", "false", "null"]),
            4 => "{}",
            5 => "[]",
            6 => "[" + string.Join(",", Enumerable.Range(0, random.Next(1, 4)).Select(_ => OddValue(depth - 1))) + "]",
            _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(1, 4))
                .Select(_ => JsonSerializer.Serialize(OddId(), Relaxed) + ":" + OddValue(depth - 1))) + "}",
        };
    }

    /// <summary>A compact JSON object: type, from and data when given (as raw JSON for data), then the extras.</summary>
    private static string Json(string? type, string? from, string? data, params (string Name, string Raw)[] extras)
    {
        var parts = new List<string>();
        if (type is not null) parts.Add("\"type\":" + JsonSerializer.Serialize(type, Relaxed));
        if (from is not null) parts.Add("\"from\":" + JsonSerializer.Serialize(from, Relaxed));
        if (data is not null) parts.Add("\"data\":" + data);
        parts.AddRange(extras.Select(e => JsonSerializer.Serialize(e.Name) + ":" + e.Raw));
        return "{" + string.Join(",", parts) + "}";
    }

    private static FuzzFrame Text(string text, string? answer, string description) =>
        new(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, [], answer, null, description);

    private FuzzFrame MaybeFragmented(FuzzFrame frame) => random.Next(4) == 0 ? Fragmented(frame) : frame;

    /// <summary>The same message in 2-6 fragments of random lengths (some empty; text may be cut inside a character,
    /// which WebSocket allows).</summary>
    private FuzzFrame Fragmented(FuzzFrame frame)
    {
        var pieces = Enumerable.Range(0, random.Next(1, 6))
            .Select(_ => random.Next(5) == 0 ? 0 : random.Next(1, Math.Max(2, frame.Payload.Length / 2)))
            .ToArray();
        return frame with { Pieces = pieces };
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"FrameFuzzer({_next} ids)");
}

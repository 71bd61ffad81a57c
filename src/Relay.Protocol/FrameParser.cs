using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Relay.Protocol;

/// <summary>
/// Reads the fields the relay routes on from one frame, in a single <see cref="Utf8JsonReader"/> pass
/// over the received bytes. Only from/to/targetInstanceId/token, an unknown type and a presence's agent
/// names become strings; everything else is reported as ranges into the caller's bytes.
/// </summary>
/// <remarks>
/// Duplicate top-level properties: the last occurrence wins, for every field, as in JavaScript's
/// <c>JSON.parse</c> which the clients use. A lone-surrogate escape (valid JSON that .NET cannot
/// decode) in from/to/targetInstanceId or type makes that field invalid rather than the frame.
/// </remarks>
public static class FrameParser
{
    // The UTF-8 bytes of FrameTypes.WellKnown, index for index.
    private static readonly byte[][] WellKnownUtf8 = Array.ConvertAll(FrameTypes.WellKnown, Encoding.UTF8.GetBytes);

    private enum Field
    {
        Other,
        Type,
        From,
        To,
        TargetInstanceId,
        Sender,
        Timestamp,
        TurnId,
        Data,
        Token,
    }

    /// <summary>
    /// Parses one frame. Never throws: malformed input is reported in <see cref="ParsedFrame.Error"/>.
    /// </summary>
    /// <param name="utf8">The frame; the returned ranges index into it.</param>
    /// <param name="computeDataHashForType">
    /// Asked with the frame's type; when it answers true, <see cref="ParsedFrame.DataHash"/> is computed.
    /// Only the gateway knows which types are echo-suppressible.
    /// </param>
    /// <param name="names">
    /// The sending connection's cache of decoded names: <c>from</c>, <c>to</c> and <c>targetInstanceId</c> seen
    /// recently come from it instead of being decoded again. Null decodes every time.
    /// </param>
    public static ParsedFrame Parse(ReadOnlySpan<byte> utf8, Func<string, bool>? computeDataHashForType = null, Utf8StringCache? names = null)
    {
        // The reader checks JSON structure but not the UTF-8 inside strings; WebSocket text frames must be
        // valid UTF-8 and peers decode them as such. The check is vectorized and costs far less than parsing.
        if (!Utf8.IsValid(utf8))
        {
            return new ParsedFrame(ParseError.InvalidJson, "frame is not valid UTF-8");
        }

        var state = new State(computeDataHashForType, names);
        try
        {
            return Read(utf8, ref state);
        }
        catch (JsonException e)
        {
            return new ParsedFrame(ParseError.InvalidJson, $"frame is not valid JSON (at byte {e.BytePositionInLine})");
        }
    }

    private static ParsedFrame Read(ReadOnlySpan<byte> utf8, ref State state)
    {
        var reader = new Utf8JsonReader(utf8, JsonText.ReaderOptions);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            // Read the whole value anyway: "[1," is invalid JSON, not a non-object.
            reader.Skip();
            reader.Read();
            return new ParsedFrame(ParseError.NotAnObject, "frame must be a JSON object");
        }

        var empty = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            empty = false;
            var field = Identify(ref reader);
            reader.Read();
            ReadField(field, ref reader, ref state);
        }

        var closingBrace = (int)reader.TokenStartIndex;

        // Throws on anything but whitespace after the object.
        reader.Read();

        return state.Complete(utf8, closingBrace, empty);
    }

    private static Field Identify(ref Utf8JsonReader reader)
    {
        if (JsonText.TextEquals(ref reader, "type"u8))
        {
            return Field.Type;
        }

        if (JsonText.TextEquals(ref reader, "from"u8))
        {
            return Field.From;
        }

        if (JsonText.TextEquals(ref reader, "to"u8))
        {
            return Field.To;
        }

        if (JsonText.TextEquals(ref reader, "data"u8))
        {
            return Field.Data;
        }

        if (JsonText.TextEquals(ref reader, "timestamp"u8))
        {
            return Field.Timestamp;
        }

        if (JsonText.TextEquals(ref reader, "turnId"u8))
        {
            return Field.TurnId;
        }

        if (JsonText.TextEquals(ref reader, "targetInstanceId"u8))
        {
            return Field.TargetInstanceId;
        }

        if (JsonText.TextEquals(ref reader, "sender"u8))
        {
            return Field.Sender;
        }

        return JsonText.TextEquals(ref reader, "token"u8) ? Field.Token : Field.Other;
    }

    private static void ReadField(Field field, ref Utf8JsonReader reader, ref State state)
    {
        switch (field)
        {
            case Field.Type:
                state.SetType(ref reader);
                break;
            case Field.From:
                state.HasFrom = true;
                state.From = ReadStringField(ref reader, state.Names, out state.FromInvalid);
                break;
            case Field.To:
                state.To = ReadStringField(ref reader, state.Names, out state.ToInvalid);
                break;
            case Field.TargetInstanceId:
                state.TargetInstanceId = ReadStringField(ref reader, state.Names, out state.TargetInstanceIdInvalid);
                break;
            case Field.Token:
                state.Token = ReadStringField(ref reader, null, out _);
                break;
            case Field.Sender:
                state.HasSender = true;
                reader.Skip();
                break;
            case Field.Timestamp:
                state.HasTimestamp = true;
                reader.Skip();
                break;
            case Field.TurnId:
                var turnIdStart = (int)reader.TokenStartIndex;
                reader.Skip();
                state.TurnId = new Range(turnIdStart, JsonText.ValueEnd(ref reader));
                break;
            case Field.Data:
                state.ReadData(ref reader);
                break;
            default:
                reader.Skip();
                break;
        }
    }

    private static string? ReadStringField(ref Utf8JsonReader reader, Utf8StringCache? names, out bool invalid)
    {
        // JavaScript clients write an unset field as null: the same as leaving it out.
        if (reader.TokenType == JsonTokenType.Null)
        {
            invalid = false;
            return null;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            invalid = true;
            reader.Skip();
            return null;
        }

        // Escaped names are rare and decoded each time; the cache compares raw bytes.
        var cacheable = names is not null && !reader.ValueIsEscaped;
        if (cacheable && names!.Find(reader.ValueSpan) is { } known)
        {
            invalid = false;
            return known;
        }

        var value = JsonText.TryGetString(ref reader);
        invalid = value is null;
        if (cacheable && value is not null)
        {
            names!.Add(reader.ValueSpan, value);
        }

        return value;
    }

    private static string? WellKnownType(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < WellKnownUtf8.Length; i++)
        {
            if (JsonText.TextEquals(ref reader, WellKnownUtf8[i]))
            {
                return FrameTypes.WellKnown[i];
            }
        }

        return null;
    }

    private static JsonValueKind KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => JsonValueKind.Object,
        JsonTokenType.StartArray => JsonValueKind.Array,
        JsonTokenType.String => JsonValueKind.String,
        JsonTokenType.Number => JsonValueKind.Number,
        JsonTokenType.True => JsonValueKind.True,
        JsonTokenType.False => JsonValueKind.False,
        JsonTokenType.Null => JsonValueKind.Null,
        _ => JsonValueKind.Undefined,
    };

    /// <summary>Everything learned so far; fields are public so the reader can fill them by ref.</summary>
    private struct State(Func<string, bool>? computeDataHashForType, Utf8StringCache? names)
    {
        public readonly Utf8StringCache? Names = names;
        public string? Type;
        public string? TypeProblem = "field 'type' is missing";
        public string? From;
        public bool HasFrom;
        public bool FromInvalid;
        public string? To;
        public bool ToInvalid;
        public string? TargetInstanceId;
        public bool TargetInstanceIdInvalid;
        public string? Token;
        public bool HasSender;
        public bool HasTimestamp;
        public Range TurnId;
        public Range Data;
        public JsonValueKind DataKind;

        // Type normally precedes data, so data is hashed and its agents taken on the way. When the type
        // comes later (or changes, through a duplicate), data is re-read once at the end for that type.
        private int _typeVersion;
        private int _dataReadForTypeVersion = -1;
        private bool _dataHashed;
        private ulong _dataHash;
        private string[]? _agents;
        private string? _askedType;
        private bool _askedAnswer;

        public void SetType(ref Utf8JsonReader reader)
        {
            _typeVersion++;
            Type = null;
            if (reader.TokenType != JsonTokenType.String)
            {
                TypeProblem = "field 'type' must be a string";
                reader.Skip();
                return;
            }

            if (reader.ValueSpan.IsEmpty)
            {
                TypeProblem = "field 'type' must not be empty";
                return;
            }

            Type = WellKnownType(ref reader) ?? JsonText.TryGetString(ref reader);
            TypeProblem = Type is null ? "field 'type' must be a valid string" : null;
        }

        public void ReadData(ref Utf8JsonReader reader)
        {
            var start = (int)reader.TokenStartIndex;
            DataKind = KindOf(reader.TokenType);
            _dataHashed = false;
            _agents = null;
            _dataReadForTypeVersion = -1;
            if (Type is not null)
            {
                _dataReadForTypeVersion = _typeVersion;
                Walk(ref reader, WantHash(Type), FrameTypes.KindOf(Type) == FrameKind.Presence);
            }
            else
            {
                reader.Skip();
            }

            Data = new Range(start, JsonText.ValueEnd(ref reader));
        }

        public ParsedFrame Complete(ReadOnlySpan<byte> utf8, int closingBrace, bool isEmptyObject)
        {
            var error = ParseError.None;
            var detail = (string?)null;
            if (Type is null)
            {
                error = ParseError.MissingType;
                detail = TypeProblem;
            }
            else if (FromInvalid || ToInvalid || TargetInstanceIdInvalid)
            {
                error = ParseError.InvalidField;
                detail = FromInvalid ? "field 'from' must be a string"
                    : ToInvalid ? "field 'to' must be a string"
                    : "field 'targetInstanceId' must be a string";
            }

            var kind = Type is null ? FrameKind.Broadcast : FrameTypes.KindOf(Type);
            var wantHash = Type is not null && WantHash(Type);
            var wantAgents = kind == FrameKind.Presence;
            var dataPresent = DataKind != JsonValueKind.Undefined;
            if (dataPresent && (wantHash || wantAgents) && _dataReadForTypeVersion != _typeVersion)
            {
                var reader = new Utf8JsonReader(utf8[Data], JsonText.ReaderOptions);
                reader.Read();
                Walk(ref reader, wantHash, wantAgents);
            }

            var hash = 0UL;
            if (wantHash)
            {
                hash = _dataHashed ? _dataHash : CanonicalHasher.Start().Finish(Type!);
            }

            return new ParsedFrame(
                error,
                detail,
                kind,
                Type ?? string.Empty,
                From,
                HasFrom,
                To,
                TargetInstanceId,
                HasSender,
                HasTimestamp,
                TurnId,
                Data,
                DataKind,
                hash,
                wantAgents ? _agents : null,
                Token,
                closingBrace,
                isEmptyObject);
        }

        private bool WantHash(string type)
        {
            if (computeDataHashForType is null)
            {
                return false;
            }

            if (!ReferenceEquals(type, _askedType))
            {
                _askedAnswer = computeDataHashForType(type);
                _askedType = type;
            }

            return _askedAnswer;
        }

        /// <summary>
        /// Reads the data value the reader is on to its end, hashing it and collecting
        /// <c>data.agents</c> as asked; without either it is just skipped.
        /// </summary>
        private void Walk(ref Utf8JsonReader reader, bool hash, bool agents)
        {
            if (!hash && !agents)
            {
                reader.Skip();
                return;
            }

            var hasher = hash ? CanonicalHasher.Start() : default;
            var collector = new AgentCollector(reader.CurrentDepth, reader.TokenType == JsonTokenType.StartObject && agents);
            if (hash)
            {
                hasher.Append(ref reader);
            }

            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                var depth = reader.CurrentDepth;
                while (reader.Read())
                {
                    if (hash)
                    {
                        hasher.Append(ref reader);
                    }

                    collector.Observe(ref reader);
                    if (reader.CurrentDepth == depth && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
                    {
                        break;
                    }
                }
            }

            _agents = collector.Result();
            if (hash)
            {
                _dataHash = hasher.Finish(Type!);
                _dataHashed = true;
            }
        }
    }
}

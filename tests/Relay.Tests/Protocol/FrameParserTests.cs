using System.Text.Json;
using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class FrameParserTests
{
    [Fact]
    public void Parses_a_typical_frame()
    {
        var frame = Utf8("""{"type":"direct","from":"p1","to":"chat","targetInstanceId":"p2","data":{"text":"hi"},"turnId":"t-1","timestamp":1700000000000}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Null(parsed.ErrorDetail);
        Assert.True(parsed.IsValid);
        Assert.Equal(FrameKind.Direct, parsed.Kind);
        Assert.Equal("direct", parsed.Type);
        Assert.Equal("p1", parsed.From);
        Assert.Equal("chat", parsed.To);
        Assert.Equal("p2", parsed.TargetInstanceId);
        Assert.False(parsed.HasSender);
        Assert.True(parsed.HasTimestamp);
        Assert.Equal("\"t-1\"", Text(frame.AsSpan()[parsed.TurnId]));
        Assert.Equal("""{"text":"hi"}""", Text(frame.AsSpan()[parsed.Data]));
        Assert.Equal(JsonValueKind.Object, parsed.DataKind);
        Assert.Equal(0UL, parsed.DataHash);
        Assert.Null(parsed.Agents);
        Assert.Null(parsed.Token);
        Assert.Equal(frame.Length - 1, parsed.ClosingBrace);
        Assert.False(parsed.IsEmptyObject);
    }

    [Theory]
    [InlineData("presence", FrameKind.Presence)]
    [InlineData("heartbeat", FrameKind.Heartbeat)]
    [InlineData("direct", FrameKind.Direct)]
    [InlineData("capabilities", FrameKind.Capabilities)]
    [InlineData("capabilities_request", FrameKind.Capabilities)]
    [InlineData("auth", FrameKind.Auth)]
    [InlineData("broadcast", FrameKind.Broadcast)]
    [InlineData("stream", FrameKind.Broadcast)]
    [InlineData("ack", FrameKind.Broadcast)]
    [InlineData("turn_end", FrameKind.Broadcast)]
    [InlineData("error", FrameKind.Broadcast)]
    [InlineData("invoke", FrameKind.Broadcast)]
    [InlineData("ring-update", FrameKind.Broadcast)]
    [InlineData("relay-log", FrameKind.Broadcast)]
    [InlineData("capabilities_response", FrameKind.Broadcast)]
    [InlineData("foo", FrameKind.Broadcast)]
    [InlineData("Presence", FrameKind.Broadcast)]
    public void Maps_type_to_kind(string type, FrameKind kind)
    {
        var parsed = FrameParser.Parse(Utf8($$"""{"type":"{{type}}"}"""));

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Equal(kind, parsed.Kind);
        Assert.Equal(type, parsed.Type);
        Assert.Equal(kind, FrameTypes.KindOf(type));
    }

    [Theory]
    [InlineData("presence")]
    [InlineData("stream")]
    [InlineData("capabilities_request")]
    [InlineData("ring-update")]
    public void Well_known_types_are_the_cached_instances(string type)
    {
        var first = FrameParser.Parse(Utf8($$"""{"type":"{{type}}"}"""));
        var second = FrameParser.Parse(Utf8($$"""{"type":"{{type}}"}"""));

        Assert.Same(first.Type, second.Type);
        Assert.Same(string.IsInterned(type), first.Type);
    }

    [Fact]
    public void Escaped_well_known_type_is_still_recognised()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"pres\u0065nce"}"""));

        Assert.Equal(FrameKind.Presence, parsed.Kind);
        Assert.Same(FrameTypes.Presence, parsed.Type);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("{\"type\":\"x\"")]
    [InlineData("{\"type\":\"x\",}")]
    [InlineData("{'type':'x'}")]
    [InlineData("{\"type\":\"x\"} x")]
    [InlineData("{\"type\":\"x\"}{}")]
    [InlineData("{\"type\":\"x\"} // comment")]
    [InlineData("[1,")]
    [InlineData("nul")]
    [InlineData("{\"type\":\"x\",\"data\":[1,2}")]
    [InlineData("{\"type\":\"x\",\"data\":01}")]
    [InlineData("{\"type\":\"x\",\"data\":NaN}")]
    public void Rejects_invalid_json(string text)
    {
        var parsed = FrameParser.Parse(Utf8(text));

        Assert.Equal(ParseError.InvalidJson, parsed.Error);
        Assert.False(string.IsNullOrEmpty(parsed.ErrorDetail));
        Assert.False(parsed.IsValid);
    }

    [Fact]
    public void Rejects_invalid_utf8()
    {
        byte[] frame = [.. "{\"type\":\"stream\",\"data\":\""u8, 0xC3, 0x28, .. "\"}"u8];

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.InvalidJson, parsed.Error);
        Assert.Contains("UTF-8", parsed.ErrorDetail, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_nesting_deeper_than_64()
    {
        static string Nest(int depth) => "{\"type\":\"x\",\"data\":" + new string('[', depth - 1) + new string(']', depth - 1) + "}";

        Assert.Equal(ParseError.None, FrameParser.Parse(Utf8(Nest(64))).Error);
        Assert.Equal(ParseError.InvalidJson, FrameParser.Parse(Utf8(Nest(65))).Error);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"type\":\"x\"}]")]
    [InlineData("\"presence\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("  [1, 2]  ")]
    public void Rejects_non_objects(string text)
    {
        var parsed = FrameParser.Parse(Utf8(text));

        Assert.Equal(ParseError.NotAnObject, parsed.Error);
        Assert.NotNull(parsed.ErrorDetail);
    }

    [Theory]
    [InlineData("{}", "missing")]
    [InlineData("{\"from\":\"p1\"}", "missing")]
    [InlineData("{\"type\":42}", "string")]
    [InlineData("{\"type\":null}", "string")]
    [InlineData("{\"type\":{\"a\":1}}", "string")]
    [InlineData("{\"type\":[\"presence\"]}", "string")]
    [InlineData("{\"type\":\"\"}", "empty")]
    [InlineData("{\"type\":\"\\ud800\"}", "valid")]
    public void Rejects_missing_type(string text, string detailWord)
    {
        var parsed = FrameParser.Parse(Utf8(text));

        Assert.Equal(ParseError.MissingType, parsed.Error);
        Assert.Contains(detailWord, parsed.ErrorDetail, StringComparison.Ordinal);
        Assert.Equal(string.Empty, parsed.Type);
    }

    [Theory]
    [InlineData("{\"type\":\"direct\",\"to\":5}", "to")]
    [InlineData("{\"type\":\"direct\",\"to\":[\"a\"]}", "to")]
    [InlineData("{\"type\":\"presence\",\"from\":{\"id\":\"p\"}}", "from")]
    [InlineData("{\"type\":\"presence\",\"from\":true}", "from")]
    [InlineData("{\"type\":\"direct\",\"to\":\"a\",\"targetInstanceId\":7}", "targetInstanceId")]
    [InlineData("{\"type\":\"direct\",\"to\":\"\\udc00\"}", "to")]
    public void Rejects_non_string_addressing_fields(string text, string field)
    {
        var parsed = FrameParser.Parse(Utf8(text));

        Assert.Equal(ParseError.InvalidField, parsed.Error);
        Assert.Equal($"field '{field}' must be a string", parsed.ErrorDetail);
    }

    [Fact]
    public void Null_addressing_fields_count_as_absent_but_a_null_from_is_kept()
    {
        var frame = Utf8("""{"type":"broadcast","from":null,"to":null,"targetInstanceId":null}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Null(parsed.From);
        Assert.True(parsed.HasFrom);
        Assert.Null(parsed.To);
        Assert.Null(parsed.TargetInstanceId);
        var stamped = System.Text.Json.JsonDocument.Parse(FrameStamper.Stamp(frame, parsed, "p1", 1, null)).RootElement;
        Assert.Equal(System.Text.Json.JsonValueKind.Null, stamped.GetProperty("from").ValueKind);
        Assert.Equal("p1", stamped.GetProperty("sender").GetString());
    }

    [Fact]
    public void Missing_type_takes_precedence_over_invalid_field_and_keeps_turn_id()
    {
        var frame = Utf8("""{"to":1,"turnId":{"n":1}}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.MissingType, parsed.Error);
        Assert.Equal("""{"n":1}""", Text(frame.AsSpan()[parsed.TurnId]));
    }

    [Fact]
    public void Invalid_field_still_reports_the_rest()
    {
        var frame = Utf8("""{"type":"direct","from":"p1","to":3,"turnId":9}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.InvalidField, parsed.Error);
        Assert.Equal("p1", parsed.From);
        Assert.Equal("9", Text(frame.AsSpan()[parsed.TurnId]));
    }

    [Fact]
    public void Non_string_token_is_not_an_error()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"auth","token":123}"""));

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Null(parsed.Token);
    }

    [Fact]
    public void Reads_auth_token()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"auth","token":"eyJ.abc.def"}"""));

        Assert.Equal(FrameKind.Auth, parsed.Kind);
        Assert.Equal("eyJ.abc.def", parsed.Token);
    }

    [Fact]
    public void Duplicate_properties_last_one_wins()
    {
        var frame = Utf8("""{"type":"stream","from":"a","to":"x","data":1,"turnId":1,"type":"direct","from":"b","to":"y","data":{"k":2},"turnId":"two"}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Equal(FrameKind.Direct, parsed.Kind);
        Assert.Equal("b", parsed.From);
        Assert.Equal("y", parsed.To);
        Assert.Equal("""{"k":2}""", Text(frame.AsSpan()[parsed.Data]));
        Assert.Equal(JsonValueKind.Object, parsed.DataKind);
        Assert.Equal("\"two\"", Text(frame.AsSpan()[parsed.TurnId]));
    }

    [Fact]
    public void Duplicate_field_later_valid_value_clears_the_error()
    {
        Assert.Equal(ParseError.None, FrameParser.Parse(Utf8("""{"type":"direct","to":1,"to":"ok"}""")).Error);
        Assert.Equal(ParseError.InvalidField, FrameParser.Parse(Utf8("""{"type":"direct","to":"ok","to":1}""")).Error);
        Assert.Equal(ParseError.MissingType, FrameParser.Parse(Utf8("""{"type":"direct","type":7}""")).Error);
        Assert.Equal(ParseError.None, FrameParser.Parse(Utf8("""{"type":7,"type":"direct"}""")).Error);
    }

    [Fact]
    public void Nested_fields_with_routing_names_are_application_data()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"broadcast","data":{"type":"presence","from":"x","to":5,"sender":"y","timestamp":1,"agents":["a"]}}"""));

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Equal(FrameKind.Broadcast, parsed.Kind);
        Assert.Null(parsed.From);
        Assert.Null(parsed.To);
        Assert.False(parsed.HasSender);
        Assert.False(parsed.HasTimestamp);
        Assert.Null(parsed.Agents);
    }

    [Fact]
    public void Detects_sender_and_timestamp_of_any_json_type()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"stream","sender":{"forged":true},"timestamp":null}"""));

        Assert.True(parsed.HasSender);
        Assert.True(parsed.HasTimestamp);
    }

    [Fact]
    public void Escaped_property_names_are_recognised()
    {
        var parsed = FrameParser.Parse(Utf8("""{"typ\u0065":"direct","\u0074o":"chat","sende\u0072":"x"}"""));

        Assert.Equal(FrameKind.Direct, parsed.Kind);
        Assert.Equal("chat", parsed.To);
        Assert.True(parsed.HasSender);
    }

    [Fact]
    public void Escaped_string_values_are_decoded()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"direct","from":"caf\u00e9\/\"q\"","to":"é"}"""));

        Assert.Equal("café/\"q\"", parsed.From);
        Assert.Equal("é", parsed.To);
    }

    [Theory]
    [InlineData("42")]
    [InlineData("-1.5e3")]
    [InlineData("\"turn-7\"")]
    [InlineData("\"with \\\"escapes\\\" \\u00e9\"")]
    [InlineData("{\"a\":[1,{\"b\":null}]}")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    [InlineData("true")]
    public void Turn_id_is_copied_raw(string turnId)
    {
        var frame = Utf8("{\"type\":\"stream\",\"turnId\" : " + turnId + " , \"data\":1}");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(turnId, Text(frame.AsSpan()[parsed.TurnId]));
    }

    [Fact]
    public void Absent_turn_id_and_data_are_empty()
    {
        var frame = Utf8("""{"type":"stream"}""");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(0, frame.AsSpan()[parsed.TurnId].Length);
        Assert.Equal(0, frame.AsSpan()[parsed.Data].Length);
        Assert.Equal(JsonValueKind.Undefined, parsed.DataKind);
    }

    [Theory]
    [InlineData("{\"x\":{\"y\":[1,2,{\"z\":\"w\"}]}}", JsonValueKind.Object)]
    [InlineData("[{\"a\":1},[2]]", JsonValueKind.Array)]
    [InlineData("\"text\"", JsonValueKind.String)]
    [InlineData("3.25", JsonValueKind.Number)]
    [InlineData("true", JsonValueKind.True)]
    [InlineData("false", JsonValueKind.False)]
    [InlineData("null", JsonValueKind.Null)]
    public void Data_range_and_kind(string data, JsonValueKind kind)
    {
        var frame = Utf8("{\"data\":\t" + data + "\n,\"type\":\"broadcast\"}");

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(data, Text(frame.AsSpan()[parsed.Data]));
        Assert.Equal(kind, parsed.DataKind);
    }

    [Theory]
    [InlineData("{\"type\":\"x\"}", 11, false)]
    [InlineData("{ \"type\" : \"x\" }  \r\n", 15, false)]
    [InlineData("  {\"type\":\"x\",\"data\":{}}", 23, false)]
    [InlineData("{}", 1, true)]
    [InlineData("{ }", 2, true)]
    public void Closing_brace_and_emptiness(string text, int closingBrace, bool empty)
    {
        var frame = Utf8(text);

        var parsed = FrameParser.Parse(frame);

        Assert.Equal(closingBrace, parsed.ClosingBrace);
        Assert.Equal((byte)'}', frame[parsed.ClosingBrace]);
        Assert.Equal(empty, parsed.IsEmptyObject);
    }

    [Fact]
    public void Trailing_whitespace_is_accepted()
    {
        Assert.Equal(ParseError.None, FrameParser.Parse(Utf8("{\"type\":\"x\"} \t\r\n ")).Error);
    }

    [Fact]
    public void Unknown_fields_and_deep_values_are_skipped()
    {
        var parsed = FrameParser.Parse(Utf8("""{"instanceId":"i","agentType":{"deep":[[[{"x":1}]]]},"type":"invoke","from":"p"}"""));

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.Equal(FrameKind.Broadcast, parsed.Kind);
        Assert.Equal("invoke", parsed.Type);
        Assert.Equal("p", parsed.From);
    }

    [Fact]
    public void Lone_surrogate_in_data_is_valid_json()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"broadcast","data":{"\ud800":"\udc00"}}"""), _ => true);

        Assert.Equal(ParseError.None, parsed.Error);
        Assert.NotEqual(0UL, parsed.DataHash);
    }
}

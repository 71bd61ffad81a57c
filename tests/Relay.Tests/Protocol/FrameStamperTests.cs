using System.Text.Json;
using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class FrameStamperTests
{
    private const double Now = 1764049300.123;

    private static byte[] Stamp(string text, string sender = "peer-1", CredentialRedactor? redactor = null)
    {
        var frame = Utf8(text);
        var parsed = FrameParser.Parse(frame);
        Assert.Equal(ParseError.None, parsed.Error);
        return FrameStamper.Stamp(frame, parsed, sender, Now, redactor);
    }

    [Fact]
    public void Fast_path_appends_sender_from_and_timestamp_keeping_every_byte()
    {
        const string original = """{"type":"broadcast","data":{"x":[1,2.50,"é\n"]},"turnId":7,"agentType":"custom","instanceId":"i-1"}""";

        var stamped = Stamp(original);

        var text = Text(stamped);
        Assert.StartsWith(original[..^1], text, StringComparison.Ordinal);
        Assert.Equal(original[..^1] + ""","sender":"peer-1","from":"peer-1","timestamp":1764049300.123}""", text);
        var json = Parse(stamped);
        Assert.Equal("peer-1", json.GetProperty("sender").GetString());
        Assert.Equal("peer-1", json.GetProperty("from").GetString());
        Assert.Equal(Now, json.GetProperty("timestamp").GetDouble());
        Assert.Equal("custom", json.GetProperty("agentType").GetString());
        Assert.Equal(7, json.GetProperty("turnId").GetInt32());
    }

    [Fact]
    public void Existing_from_and_client_timestamp_are_untouched()
    {
        const string original = """{"type":"stream","from":"chat","timestamp":1700000000000.0,"data":"x"}""";

        var stamped = Stamp(original, "peer-9");

        Assert.Equal(original[..^1] + ""","sender":"peer-9"}""", Text(stamped));
        Assert.Equal(["type", "from", "timestamp", "data", "sender"], PropertyNames(stamped));
    }

    [Fact]
    public void Empty_object_gets_no_leading_comma()
    {
        var frame = Utf8("{ }");
        var parsed = FrameParser.Parse(frame);

        // An empty object never parses successfully (no type), but splicing must still be right for
        // the smallest object that does.
        Assert.Equal(ParseError.MissingType, parsed.Error);
        Assert.Equal("""{"type":"x","sender":"p","from":"p","timestamp":1764049300.123}""", Text(Stamp("""{"type":"x"}""", "p")));
    }

    [Fact]
    public void Whitespace_before_the_closing_brace_is_kept_and_after_it_dropped()
    {
        Assert.Equal("{ \"type\":\"x\",\"from\":\"a\",\"timestamp\":1 \n,\"sender\":\"p\"}", Text(Stamp("{ \"type\":\"x\",\"from\":\"a\",\"timestamp\":1 \n}  \r\n", "p")));
    }

    [Fact]
    public void Sender_id_is_json_escaped()
    {
        var stamped = Stamp("""{"type":"x","from":"a","timestamp":1}""", "we\"ird\\id é");

        Assert.Equal("we\"ird\\id é", Parse(stamped).GetProperty("sender").GetString());
        Assert.Contains("\"sender\":\"we\\\"ird\\\\id é\"", Text(stamped), StringComparison.Ordinal);
    }

    [Fact]
    public void Fast_path_allocates_the_exact_size()
    {
        var stamped = Stamp("""{"type":"x"}""", "p");

        Assert.Equal((byte)'}', stamped[^1]);
        Assert.Equal(Text(stamped).Length, stamped.Length);
    }

    [Fact]
    public void Client_sender_is_removed_wherever_it_was()
    {
        var stamped = Stamp("""{"sender":"forged","type":"broadcast","from":"chat","data":{"sender":"nested stays"},"sender":{"x":1},"timestamp":5}""", "real");

        Assert.Equal(["type", "from", "data", "timestamp", "sender"], PropertyNames(stamped));
        var json = Parse(stamped);
        Assert.Equal("real", json.GetProperty("sender").GetString());
        Assert.Equal("chat", json.GetProperty("from").GetString());
        Assert.Equal("nested stays", json.GetProperty("data").GetProperty("sender").GetString());
        Assert.Equal(5, json.GetProperty("timestamp").GetInt32());
    }

    [Fact]
    public void Slow_path_keeps_value_spellings()
    {
        var stamped = Stamp("""{ "type" : "stream", "sender":"x", "data" : { "n" : 1.50e0, "s" : "caf\u00e9 \/ é", "b":[true,false,null] } }""", "p");

        Assert.Equal("""{"type":"stream","data":{"n":1.50e0,"s":"caf\u00e9 \/ é","b":[true,false,null]},"sender":"p","from":"p","timestamp":1764049300.123}""", Text(stamped));
    }

    [Fact]
    public void Slow_path_keeps_escaped_property_names_meaningful()
    {
        var stamped = Stamp("""{"type":"x","sender":1,"na\u006de":"v","\u00e9":2}""", "p");

        var json = Parse(stamped);
        Assert.Equal("v", json.GetProperty("name").GetString());
        Assert.Equal(2, json.GetProperty("é").GetInt32());
    }

    [Fact]
    public void Redacts_secrets_in_nested_strings_and_array_items_but_not_names()
    {
        const string token = "eyJhbGciOiJSUzI1NiJ9.payload.signature";
        var redactor = CredentialRedactor.Create([token])!;

        var stamped = Stamp(
            $$$"""{"type":"relay-log","from":"p","timestamp":1,"data":{"url":"wss://relay/ws?access_token={{{token}}}&mesh=a","items":["x","{{{token}}}",{"deep":["pre{{{token}}}post"]}],"{{{token}}}":"name stays"}}""",
            "p",
            redactor);

        var text = Text(stamped);
        var data = Parse(stamped).GetProperty("data");
        Assert.Equal("wss://relay/ws?access_token=[redacted]&mesh=a", data.GetProperty("url").GetString());
        Assert.Equal("[redacted]", data.GetProperty("items")[1].GetString());
        Assert.Equal("pre[redacted]post", data.GetProperty("items")[2].GetProperty("deep")[0].GetString());
        Assert.Equal("name stays", data.GetProperty(token).GetString());
        Assert.Equal(1, text.Split(token).Length - 1);
    }

    [Fact]
    public void Redacts_a_secret_hidden_behind_escapes()
    {
        const string secret = "abc/def+ghi=";
        var redactor = CredentialRedactor.Create([secret])!;

        var stamped = Stamp("""{"type":"relay-log","from":"p","timestamp":1,"data":"x abc\/def\u002bghi= y"}""", "p", redactor);

        Assert.Equal("x [redacted] y", Parse(stamped).GetProperty("data").GetString());
    }

    [Fact]
    public void A_type_that_spells_the_credential_is_redacted_like_any_string_value()
    {
        // Found by MutatedFrameProperties (replay 11730998163578486497,5222194395189687545,27).
        var redactor = CredentialRedactor.Create(["the-secret-token"])!;

        var stamped = Stamp("""{"type" : "the\u002dsecret-token","targetInstanceId" : ""}""", "p", redactor);

        Assert.Equal("[redacted]", Parse(stamped).GetProperty("type").GetString());
        Assert.DoesNotContain("secret", Text(stamped), StringComparison.Ordinal);
    }

    [Fact]
    public void Redactor_that_finds_nothing_keeps_the_fast_path()
    {
        var redactor = CredentialRedactor.Create(["a-long-secret-value"])!;
        const string original = """{"type":"stream", "from":"p","timestamp":1,"data":"nothing \n here"}""";

        Assert.Equal(original[..^1] + ""","sender":"p"}""", Text(Stamp(original, "p", redactor)));
    }

    [Fact]
    public void Redacted_output_keeps_non_ascii_readable()
    {
        var redactor = CredentialRedactor.Create(["supersecret"])!;

        var text = Text(Stamp("""{"type":"x","from":"p","timestamp":1,"data":"héllo supersecret 😀 <b>"}""", "p", redactor));

        Assert.Contains("\"héllo [redacted] 😀 <b>\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_unparsed_or_failed_frame()
    {
        var frame = Utf8("""{"to":1}""");
        var parsed = FrameParser.Parse(frame);

        Assert.Throws<ArgumentException>(() => FrameStamper.Stamp(frame, parsed, "p", Now, null));
        Assert.Throws<ArgumentException>(() => FrameStamper.Stamp(frame, default, "p", Now, null));
    }

    [Fact]
    public void Output_parses_back_to_the_same_routing_fields()
    {
        var frame = Utf8("""{"type":"direct","to":"chat","targetInstanceId":"p2","turnId":{"a":1},"data":{"k":"v"}}""");
        var parsed = FrameParser.Parse(frame);

        var stamped = FrameStamper.Stamp(frame, parsed, "p1", Now, null);
        var again = FrameParser.Parse(stamped);

        Assert.Equal(ParseError.None, again.Error);
        Assert.Equal("p1", again.From);
        Assert.Equal("chat", again.To);
        Assert.Equal("p2", again.TargetInstanceId);
        Assert.True(again.HasSender);
        Assert.True(again.HasTimestamp);
        Assert.Equal(Text(frame.AsSpan()[parsed.TurnId]), Text(stamped.AsSpan()[again.TurnId]));
        Assert.Equal(JsonValueKind.Object, again.DataKind);
    }
}

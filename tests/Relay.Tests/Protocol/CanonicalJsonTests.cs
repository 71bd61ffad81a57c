using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class CanonicalJsonTests
{
    private static ulong H(string data, string type = "broadcast") => CanonicalJson.Hash(type, Utf8(data));

    [Theory]
    [InlineData("{\"a\":1,\"b\":[true,null]}", "{ \"a\" : 1 ,\n\t\"b\" : [ true , null ] }")]
    [InlineData("\"é\"", "\"\\u00e9\"")]
    [InlineData("\"é\"", "\"\\u00E9\"")]
    [InlineData("\"a/b\"", "\"a\\/b\"")]
    [InlineData("{\"é\":1}", "{\"\\u00e9\":1}")]
    [InlineData("\"😀\"", "\"\\ud83d\\ude00\"")]
    [InlineData("1", "1.0")]
    [InlineData("1", "1e0")]
    [InlineData("1", "1E+0")]
    [InlineData("100", "1e2")]
    [InlineData("0.5", "5e-1")]
    [InlineData("-0", "0")]
    [InlineData("0", "0.000e10")]
    [InlineData("1700000000123", "1.700000000123e12")]
    [InlineData("[1.50,2]", "[1.5, 2.0]")]
    [InlineData("12345678901234567890", "12345678901234567890")]
    public void Equal_when_only_spelling_differs(string a, string b)
    {
        Assert.Equal(H(a), H(b));
    }

    [Theory]
    [InlineData("[\"a\"]", "\"a\"")]
    [InlineData("{\"a\":1}", "[\"a\",1]")]
    [InlineData("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}")]
    [InlineData("[\"a\",\"sb\"]", "[\"as\",\"b\"]")]
    [InlineData("{\"ab\":\"c\"}", "{\"a\":\"bc\"}")]
    [InlineData("\"1\"", "1")]
    [InlineData("null", "\"null\"")]
    [InlineData("true", "false")]
    [InlineData("null", "{}")]
    [InlineData("{}", "[]")]
    [InlineData("[[]]", "[]")]
    [InlineData("[{}]", "{}")]
    [InlineData("1", "1.0000000000000001")]
    [InlineData("12345678901234567890", "12345678901234567891")]
    [InlineData("1e400", "2e400")]
    [InlineData("1e-400", "0")]
    [InlineData("0.1", "0.10000000000000001")]
    [InlineData("{\"a\":\"x\"}", "{\"a\":\"X\"}")]
    [InlineData("\"a b\"", "\"ab\"")]
    public void Different_when_content_differs(string a, string b)
    {
        Assert.NotEqual(H(a), H(b));
    }

    [Fact]
    public void Type_is_part_of_the_hash()
    {
        Assert.NotEqual(H("{}", "invoke"), H("{}", "broadcast"));
        Assert.NotEqual(H("", "a"), H("", "b"));
    }

    [Fact]
    public void Absent_data_differs_from_null_and_empty_object()
    {
        Assert.NotEqual(CanonicalJson.Hash("invoke", default), H("null", "invoke"));
        Assert.NotEqual(CanonicalJson.Hash("invoke", default), H("{}", "invoke"));
    }

    [Fact]
    public void Is_deterministic_across_processes()
    {
        // XxHash3 with a fixed layout: this value must never change, since nodes compare hashes.
        var first = H("""{"text":"hello","n":[1,2.5,true,null]}""", "ring-update");

        Assert.Equal(6554720822920431873UL, first);

        Assert.Equal(first, H("""{ "text" : "hell\u006f", "n" : [ 1.0, 25e-1, true, null ] }""", "ring-update"));
        Assert.Equal(first, CanonicalJson.Hash("ring-update", Utf8("""{"text":"hello","n":[1,2.5,true,null]}""")));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[1] 2")]
    [InlineData("  ")]
    public void Invalid_data_throws_json_exception(string data)
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => H(data));
    }

    [Fact]
    public void Long_escaped_strings_hash_like_their_unescaped_form()
    {
        var plain = new string('é', 5000);
        var escaped = string.Concat(Enumerable.Repeat("\\u00e9", 5000));

        Assert.Equal(H("\"" + plain + "\""), H("\"" + escaped + "\""));
    }

    [Fact]
    public void Parser_computes_the_same_hash_in_its_pass()
    {
        var frame = Utf8("""{"type":"invoke","from":"p1","data":{"prompt":"caf\u00e9","n":1.0},"timestamp":5}""");

        var parsed = FrameParser.Parse(frame, _ => true);

        Assert.Equal(CanonicalJson.Hash("invoke", frame.AsSpan()[parsed.Data]), parsed.DataHash);
        Assert.Equal(H("""{"prompt":"café","n":1}""", "invoke"), parsed.DataHash);
    }

    [Fact]
    public void Parser_hash_ignores_everything_but_type_and_data()
    {
        var a = FrameParser.Parse(Utf8("""{"type":"broadcast","from":"p1","data":[1,2],"turnId":1}"""), _ => true);
        var b = FrameParser.Parse(Utf8("""{"timestamp":9,"data":[1, 2],"from":"p2","type":"broadcast"}"""), _ => true);

        Assert.Equal(a.DataHash, b.DataHash);
    }

    [Fact]
    public void Parser_hash_without_data_matches_absent_data()
    {
        var parsed = FrameParser.Parse(Utf8("""{"type":"invoke"}"""), _ => true);

        Assert.Equal(CanonicalJson.Hash("invoke", default), parsed.DataHash);
    }

    [Fact]
    public void Parser_asks_the_predicate_and_hashes_only_when_told()
    {
        var asked = new List<string>();
        var frame = Utf8("""{"type":"stream","data":{"x":1}}""");

        var parsed = FrameParser.Parse(frame, type => { asked.Add(type); return false; });

        Assert.Equal(0UL, parsed.DataHash);
        Assert.Equal(["stream"], asked);
        Assert.Equal(0UL, FrameParser.Parse(frame).DataHash);
    }

    [Fact]
    public void Parser_hash_with_type_after_data_or_changed_type()
    {
        static bool OnlyInvoke(string type) => type == "invoke";
        var later = FrameParser.Parse(Utf8("""{"data":{"x":1},"type":"invoke"}"""), OnlyInvoke);
        var changed = FrameParser.Parse(Utf8("""{"type":"stream","data":{"x":1},"type":"invoke"}"""), OnlyInvoke);
        var changedAway = FrameParser.Parse(Utf8("""{"type":"invoke","data":{"x":1},"type":"stream"}"""), OnlyInvoke);

        Assert.Equal(H("""{"x":1}""", "invoke"), later.DataHash);
        Assert.Equal(H("""{"x":1}""", "invoke"), changed.DataHash);
        Assert.Equal(0UL, changedAway.DataHash);
    }
}

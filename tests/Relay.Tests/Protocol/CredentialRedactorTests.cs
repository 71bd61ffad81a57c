using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class CredentialRedactorTests
{
    [Fact]
    public void Nothing_to_redact_gives_null()
    {
        Assert.Null(CredentialRedactor.Create([]));
        Assert.Null(CredentialRedactor.Create([null, "", "short", "1234567"]));
        Assert.Null(CredentialRedactor.FromQueryString(null, null));
        Assert.Null(CredentialRedactor.FromQueryString("?mesh=default&name=someone-long", null));
        Assert.Null(CredentialRedactor.FromQueryString("?token=abc", "tiny"));
    }

    [Fact]
    public void Eight_characters_is_long_enough()
    {
        var redactor = CredentialRedactor.Create(["12345678"]);

        Assert.NotNull(redactor);
        Assert.Equal("x[redacted]y", redactor.Redact("x12345678y"));
    }

    [Fact]
    public void Short_secrets_are_ignored_while_long_ones_are_redacted()
    {
        var redactor = CredentialRedactor.Create(["abc", "long-enough-secret"])!;

        Assert.Equal("abc [redacted]", redactor.Redact("abc long-enough-secret"));
    }

    [Fact]
    public void Matches_encoded_and_decoded_variants()
    {
        const string secret = "a/b+c=d e";
        var redactor = CredentialRedactor.Create([secret])!;

        Assert.Contains(secret, redactor.Variants);
        Assert.Contains(Uri.EscapeDataString(secret), redactor.Variants);
        Assert.Equal("1 [redacted] 2 [redacted]", redactor.Redact($"1 {secret} 2 {Uri.EscapeDataString(secret)}"));
    }

    [Fact]
    public void A_percent_encoded_secret_is_also_matched_decoded()
    {
        var redactor = CredentialRedactor.Create(["abc%2Fdef%3D%3D"])!;

        Assert.Equal("[redacted] [redacted]", redactor.Redact("abc%2Fdef%3D%3D abc/def=="));
    }

    [Fact]
    public void Variants_are_distinct_and_longest_first()
    {
        var redactor = CredentialRedactor.Create(["plainsecret", "plainsecret", "x y%20z/zzzz"])!;

        Assert.Equal(redactor.Variants.Count, redactor.Variants.Distinct(StringComparer.Ordinal).Count());
        for (var i = 1; i < redactor.Variants.Count; i++)
        {
            Assert.True(redactor.Variants[i - 1].Length >= redactor.Variants[i].Length);
        }
    }

    [Fact]
    public void Query_string_access_token_and_token_raw_and_decoded()
    {
        var redactor = CredentialRedactor.FromQueryString("?mesh=team&access_token=eyJ0eXAi.abc%2Bdef.ghi&Token=second-token-value", null)!;

        Assert.Equal("[redacted]", redactor.Redact("eyJ0eXAi.abc%2Bdef.ghi"));
        Assert.Equal("[redacted]", redactor.Redact("eyJ0eXAi.abc+def.ghi"));
        Assert.Equal("[redacted]", redactor.Redact("second-token-value"));
        Assert.Equal("team", redactor.Redact("team"));
    }

    [Fact]
    public void Query_string_without_question_mark_and_with_odd_pairs()
    {
        var redactor = CredentialRedactor.FromQueryString("&&=x&token&access_token=the-real-token&", null)!;

        Assert.Equal(["the-real-token"], redactor.Variants);
    }

    [Fact]
    public void Query_string_x_amz_parameters_any_case()
    {
        const string query = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fbedrock%2Faws4_request&x-amz-security-token=IQoJb3JpZ2luX2VjEJr%2F%2F&X-Amz-Signature=0123456789abcdef&X-Amz-Expires=300";

        var redactor = CredentialRedactor.FromQueryString(query, null)!;

        Assert.Equal("[redacted]", redactor.Redact("AKIAEXAMPLE/20250101/us-east-1/bedrock/aws4_request"));
        Assert.Equal("[redacted]", redactor.Redact("AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fbedrock%2Faws4_request"));
        Assert.Equal("[redacted]", redactor.Redact("IQoJb3JpZ2luX2VjEJr//"));
        Assert.Equal("[redacted]", redactor.Redact("0123456789abcdef"));
        Assert.Equal("300", redactor.Redact("300"));
        var url = "wss://host/ws" + query;
        Assert.Equal("wss://host/ws?X-Amz-Algorithm=[redacted]&X-Amz-Credential=[redacted]&x-amz-security-token=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Expires=300", redactor.Redact(url));
    }

    [Fact]
    public void Bearer_token_is_included()
    {
        var redactor = CredentialRedactor.FromQueryString("?mesh=a", "bearer-token-123")!;

        Assert.Equal("Authorization: Bearer [redacted]", redactor.Redact("Authorization: Bearer bearer-token-123"));
    }

    [Fact]
    public void Redact_returns_the_same_instance_when_nothing_matches()
    {
        var redactor = CredentialRedactor.Create(["secret-value"])!;
        const string value = "harmless";

        Assert.Same(value, redactor.Redact(value));
    }

    [Fact]
    public void Longer_variant_wins_over_a_contained_shorter_one()
    {
        var redactor = CredentialRedactor.Create(["abcdefgh", "abcdefgh-ijkl"])!;

        Assert.Equal("[redacted] [redacted]", redactor.Redact("abcdefgh-ijkl abcdefgh"));
    }

    [Theory]
    [InlineData("""{"data":"contains the-secret-1 raw"}""", true)]
    [InlineData("""{"data":"contains the%2Dsecret%2D1, percent-encoded"}""", true)]
    [InlineData("""{"data":"100% off, %20 and %zz, no secret byte encoded"}""", false)]
    [InlineData("""{"data":"nothing here"}""", false)]
    [InlineData("""{"data":"line\nbreak and \"quotes\" and \\ backslash"}""", false)]
    [InlineData("""{"data":"the\u002dsecret-1"}""", true)]
    [InlineData("""{"data":"the\/secret"}""", false)]
    [InlineData("""{"data":"\u00e9"}""", false)]
    [InlineData("""{"data":"broken \u00"}""", true)]
    [InlineData("""{"data":"ends with \""}""", false)]
    public void Might_contain_secret_is_conservative_but_not_paranoid(string frame, bool expected)
    {
        var redactor = CredentialRedactor.Create(["the-secret-1"])!;

        Assert.Equal(expected, redactor.MightContainSecret(Utf8(frame)));
    }

    [Fact]
    public void Might_contain_secret_sees_escapes_of_characters_a_secret_contains()
    {
        var withSlash = CredentialRedactor.Create(["abc/def/ghi"])!;
        var withNonAscii = CredentialRedactor.Create(["pässwörd-secret"])!;

        Assert.True(withSlash.MightContainSecret(Utf8("""{"a":"abc\/def\/ghi"}""")));
        Assert.True(withNonAscii.MightContainSecret(Utf8("""{"a":"p\u00e4ssw\u00f6rd-secret"}""")));
        Assert.False(withSlash.MightContainSecret(Utf8("""{"a":"p\u00e4ss"}""")));
        Assert.True(withSlash.MightContainSecret(Utf8("trailing backslash \\")));
    }

    private const string Jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    private static string EncodeEvery(string text, string hexFormat) =>
        string.Concat(System.Text.Encoding.UTF8.GetBytes(text).Select(b => "%" + b.ToString(hexFormat, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("X2")]
    [InlineData("x2")]
    public void A_secret_with_every_byte_percent_encoded_is_redacted(string hexFormat)
    {
        var redactor = CredentialRedactor.FromQueryString("?access_token=" + Jwt, null)!;
        var encoded = EncodeEvery(Jwt, hexFormat);

        Assert.True(redactor.MightContainSecret(Utf8($$"""{"url":"wss://h/ws?access_token={{encoded}}"}""")));
        Assert.Equal("wss://h/ws?access_token=[redacted]&mesh=a", redactor.Redact($"wss://h/ws?access_token={encoded}&mesh=a"));
    }

    [Fact]
    public void A_secret_with_some_bytes_encoded_in_lower_case_hex_is_redacted()
    {
        var redactor = CredentialRedactor.FromQueryString("?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2Fabc", null)!;

        Assert.Equal("t=[redacted]", redactor.Redact("t=IQoJb3JpZ2luX2VjEJr%2f%2fabc"));
        Assert.Equal("t=[redacted]", redactor.Redact("t=IQoJb3JpZ2luX2VjEJr%2F%2fabc"));
        Assert.Equal("t=[redacted]", redactor.Redact("t=%49QoJb3JpZ2luX2VjEJr/%2fabc"));
    }

    [Fact]
    public void A_plus_for_a_space_is_redacted_in_every_spelling()
    {
        // The relay reads query parameters as forms do: '+' is a space, so the token it took is "abc def ghi jkl".
        var redactor = CredentialRedactor.FromQueryString("?token=abc+def+ghi+jkl", null)!;

        Assert.Equal("[redacted]", redactor.Redact("abc+def+ghi+jkl"));
        Assert.Equal("[redacted]", redactor.Redact("abc def ghi jkl"));
        Assert.Equal("[redacted]", redactor.Redact("abc%20def+ghi%2Bjkl".Replace("%2B", "%20", StringComparison.Ordinal)));
        Assert.True(redactor.MightContainSecret(Utf8("""{"a":"abc def ghi jkl"}""")));
        Assert.True(redactor.MightContainSecret(Utf8("""{"a":"abc%20def%20ghi%20jkl"}""")));
    }

    [Fact]
    public void A_percent_encoded_parameter_name_still_names_a_secret()
    {
        var redactor = CredentialRedactor.FromQueryString("?%61%63%63ess%5ftoken=the-real-token&%54oken=other-token-1", null)!;

        Assert.Equal("[redacted] [redacted]", redactor.Redact("the-real-token other-token-1"));
    }

    [Fact]
    public void A_stamped_frame_quoting_its_url_fully_encoded_is_redacted()
    {
        var redactor = CredentialRedactor.FromQueryString("?mesh=a&access_token=" + Jwt, null)!;
        var frame = Utf8($$$"""{"type":"relay-log","data":{"url":"ws://h/ws?access_token={{{EncodeEvery(Jwt, "x2")}}}"}}""");
        var parsed = FrameParser.Parse(frame);

        var stamped = System.Text.Encoding.UTF8.GetString(FrameStamper.Stamp(frame, parsed, "peer-1", 1, redactor));

        Assert.Contains("access_token=[redacted]", stamped, StringComparison.Ordinal);
        Assert.DoesNotContain("%65%79", stamped, StringComparison.OrdinalIgnoreCase);
    }
}

using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class PresenceRulesTests
{
    private static RelayError? Check(string frame, string? bound = null, int maxMetadataBytes = 64)
    {
        var bytes = Utf8(frame);
        return PresenceRules.Check(FrameParser.Parse(bytes), bytes.Length, bound, maxPeerIdLength: 8, maxMetadataBytes);
    }

    [Theory]
    [InlineData("""{"type":"presence","from":"a"}""")]
    [InlineData("""{"type":"presence","from":"a","data":{"agents":["x"]}}""")]
    public void Accepts_a_valid_presence(string frame) => Assert.Null(Check(frame));

    [Theory]
    [InlineData("""{"type":"presence","from":"relay"}""", ErrorCodes.ReservedId)]
    [InlineData("""{"type":"presence"}""", ErrorCodes.InvalidPresence)]
    [InlineData("""{"type":"presence","from":"much-too-long"}""", ErrorCodes.InvalidPresence)]
    [InlineData("""{"type":"presence","from":"a","data":[1]}""", ErrorCodes.InvalidPresence)]
    [InlineData("""{"type":"presence","from":"a","data":{"text":"more than sixty-four bytes of metadata, which is this test's limit"}}""", ErrorCodes.MetadataTooLarge)]
    public void Refuses_with_the_documented_code(string frame, string code) => Assert.Equal(code, Check(frame)?.Code);

    [Fact]
    public void A_connection_keeps_the_id_it_registered_with()
    {
        Assert.Null(Check("""{"type":"presence","from":"a"}""", bound: "a"));
        Assert.Equal(ErrorCodes.IdChange, Check("""{"type":"presence","from":"b"}""", bound: "a")?.Code);
    }

    [Fact]
    public void An_invalid_id_is_reported_before_an_id_change_and_an_id_change_before_bad_data()
    {
        Assert.Equal(ErrorCodes.ReservedId, Check("""{"type":"presence","from":"relay","data":1}""", bound: "a")?.Code);
        Assert.Equal(ErrorCodes.IdChange, Check("""{"type":"presence","from":"b","data":1}""", bound: "a")?.Code);
    }

    [Theory]
    [InlineData(ParseError.InvalidJson, ErrorCodes.InvalidJson)]
    [InlineData(ParseError.NotAnObject, ErrorCodes.NotAnObject)]
    [InlineData(ParseError.MissingType, ErrorCodes.MissingType)]
    [InlineData(ParseError.InvalidField, ErrorCodes.InvalidField)]
    public void Parse_errors_map_to_their_codes(ParseError error, string code) => Assert.Equal(code, ErrorCodes.ForParseError(error));
}

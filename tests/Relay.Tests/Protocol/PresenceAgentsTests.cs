using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class PresenceAgentsTests
{
    private static string[]? AgentsOf(string data, string type = "presence") =>
        FrameParser.Parse(Utf8($$"""{"type":"{{type}}","from":"p1","data":{{data}}}""")).Agents;

    private static void AssertAgents(string[]? actual, params string[] expected)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void String_items()
    {
        AssertAgents(AgentsOf("""{"agents":["chat","agi"],"status":"online"}"""), "chat", "agi");
    }

    [Fact]
    public void Object_items_contribute_their_name()
    {
        AssertAgents(AgentsOf("""{"agents":[{"name":"chat","model":"x"},{"id":1,"name":"agi"}]}"""), "chat", "agi");
    }

    [Fact]
    public void Mixed_items_ignore_what_is_not_a_name()
    {
        var agents = AgentsOf("""{"agents":["a",1,null,{"name":"b"},{"name":2},{"id":"c"},["d"],{"nested":{"name":"e"}},{"name":"f","name":"g"},"h"]}""");

        AssertAgents(agents, "a", "b", "g", "h");
    }

    [Fact]
    public void Empty_array_gives_no_agents()
    {
        AssertAgents(AgentsOf("""{"agents":[]}"""));
    }

    [Theory]
    [InlineData("{\"status\":\"online\"}")]
    [InlineData("{\"agents\":\"chat\"}")]
    [InlineData("{\"agents\":{\"name\":\"chat\"}}")]
    [InlineData("{\"agents\":null}")]
    [InlineData("{\"meta\":{\"agents\":[\"chat\"]}}")]
    [InlineData("[\"chat\"]")]
    [InlineData("\"chat\"")]
    [InlineData("{}")]
    public void Absent_or_not_an_array_is_null(string data)
    {
        Assert.Null(AgentsOf(data));
    }

    [Fact]
    public void Presence_without_data_has_no_agents()
    {
        Assert.Null(FrameParser.Parse(Utf8("""{"type":"presence","from":"p1"}""")).Agents);
    }

    [Fact]
    public void Last_agents_property_wins()
    {
        AssertAgents(AgentsOf("""{"agents":["a"],"agents":["b"]}"""), "b");
        Assert.Null(AgentsOf("""{"agents":["a"],"agents":5}"""));
    }

    [Fact]
    public void Only_presence_frames_report_agents()
    {
        Assert.Null(AgentsOf("""{"agents":["chat"]}""", "broadcast"));
        Assert.Null(AgentsOf("""{"agents":["chat"]}""", "heartbeat"));
    }

    [Fact]
    public void Type_after_data_is_honoured()
    {
        var parsed = FrameParser.Parse(Utf8("""{"data":{"agents":["chat"]},"from":"p1","type":"presence"}"""));

        AssertAgents(parsed.Agents, "chat");
    }

    [Fact]
    public void Type_changed_by_duplicate_after_data_is_honoured()
    {
        AssertAgents(FrameParser.Parse(Utf8("""{"type":"stream","data":{"agents":["chat"]},"type":"presence"}""")).Agents, "chat");
        Assert.Null(FrameParser.Parse(Utf8("""{"type":"presence","data":{"agents":["chat"]},"type":"stream"}""")).Agents);
    }

    [Fact]
    public void Escaped_agent_names_are_decoded()
    {
        AssertAgents(AgentsOf("""{"\u0061gents":["caf\u00e9",{"n\u0061me":"a\"b"}]}"""), "café", "a\"b");
    }

    [Fact]
    public void Agents_extraction_does_not_disturb_the_hash()
    {
        var frame = Utf8("""{"type":"presence","data":{"agents":["chat",{"name":"agi"}],"x":1}}""");

        var parsed = FrameParser.Parse(frame, _ => true);

        AssertAgents(parsed.Agents, "chat", "agi");
        Assert.Equal(CanonicalJson.Hash("presence", frame.AsSpan()[parsed.Data]), parsed.DataHash);
    }
}

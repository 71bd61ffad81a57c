using System.Text.Json;
using Relay.Protocol;
using Xunit;
using static Relay.Tests.Infrastructure.Json;

namespace Relay.Tests.Protocol;

public class RelayFramesTests
{
    private const double Now = 1764049300.123;

    [Fact]
    public void Error_has_the_documented_shape()
    {
        var frame = RelayFrames.Error(ErrorCodes.UnknownTarget, "no peer or agent named 'chat'", "peer-1", Utf8("""{"id":"t1","n":[1]}"""), Now);

        Assert.Equal(["type", "from", "to", "data", "turnId", "timestamp"], PropertyNames(frame));
        var json = Parse(frame);
        Assert.Equal("error", json.GetProperty("type").GetString());
        Assert.Equal("relay", json.GetProperty("from").GetString());
        Assert.Equal("peer-1", json.GetProperty("to").GetString());
        Assert.Equal("unknown_target", json.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal("no peer or agent named 'chat'", json.GetProperty("data").GetProperty("error").GetString());
        Assert.Equal("""{"id":"t1","n":[1]}""", json.GetProperty("turnId").GetRawText());
        Assert.Equal(Now, json.GetProperty("timestamp").GetDouble());
    }

    [Fact]
    public void Error_without_recipient_or_turn_id_omits_them()
    {
        var frame = RelayFrames.Error(ErrorCodes.InvalidJson, "frame is not valid JSON", null, default, Now);

        Assert.Equal("""{"type":"error","from":"relay","data":{"code":"invalid_json","error":"frame is not valid JSON"},"timestamp":1764049300.123}""", Text(frame));
    }

    [Fact]
    public void Counted_error_says_the_count_in_its_text_and_its_data()
    {
        var frame = RelayFrames.CountedError(ErrorCodes.Dropped, 3, "frame(s) were dropped", "peer-1", Now);

        Assert.Equal("""{"type":"error","from":"relay","to":"peer-1","data":{"code":"dropped","error":"3 frame(s) were dropped","count":3},"timestamp":1764049300.123}""", Text(frame));
    }

    [Fact]
    public void Candidates_are_escaped_as_System_Text_Json_escapes_them()
    {
        string[][] cases = [["a"], ["peer-1", "<b>&'+\"", "caf\u00e9 \ud83d\ude00", "line\nbreak"]];
        foreach (var candidates in cases)
        {
            Assert.Equal("\"candidates\":" + JsonSerializer.Serialize(candidates), Text(RelayFrames.CandidatesProperty(candidates)));
        }
    }

    [Fact]
    public void Error_copies_the_turn_id_parsed_from_the_offending_frame()
    {
        var offending = Utf8("""{"type":"direct","to":"nobody","turnId":42.0}""");
        var parsed = FrameParser.Parse(offending);

        var frame = RelayFrames.Error(ErrorCodes.UnknownTarget, "x", "p", offending.AsSpan()[parsed.TurnId], Now);

        Assert.Contains(",\"turnId\":42.0,", Text(frame), StringComparison.Ordinal);
    }

    [Fact]
    public void Error_inserts_extra_data_properties()
    {
        var frame = RelayFrames.Error(ErrorCodes.AmbiguousTarget, "several", "p", default, Now, Utf8("""
            "candidates":["a","b"],"count":2
            """));

        var data = Parse(frame).GetProperty("data");
        Assert.Equal("ambiguous_target", data.GetProperty("code").GetString());
        Assert.Equal(["a", "b"], data.GetProperty("candidates").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(2, data.GetProperty("count").GetInt32());
    }

    [Fact]
    public void Error_escapes_text()
    {
        const string message = "bad \"quote\" \\ and\nnewline \u0001 é 😀";

        var frame = RelayFrames.Error("code", message, "id\"x", default, Now);

        var json = Parse(frame);
        Assert.Equal(message, json.GetProperty("data").GetProperty("error").GetString());
        Assert.Equal("id\"x", json.GetProperty("to").GetString());
        Assert.Contains("é 😀", Text(frame), StringComparison.Ordinal);
    }

    [Fact]
    public void Presence_entry_carries_metadata_raw()
    {
        const string metadata = """{"agents":["chat"],"name":"Tab \u00e9","n":1.50}""";

        var frame = RelayFrames.Presence("peer-2", Utf8(metadata), 1764049299.5);

        Assert.Equal("""{"type":"presence","from":"peer-2","data":""" + metadata + ""","timestamp":1764049299.5}""", Text(frame));
        var parsed = FrameParser.Parse(frame);
        Assert.Equal(FrameKind.Presence, parsed.Kind);
        Assert.Equal("peer-2", parsed.From);
        Assert.Equal(["chat"], parsed.Agents!);
    }

    [Fact]
    public void Presence_without_metadata_has_empty_object_data()
    {
        var json = Parse(RelayFrames.Presence("p", default, Now));

        Assert.Equal(JsonValueKind.Object, json.GetProperty("data").ValueKind);
        Assert.Empty(json.GetProperty("data").EnumerateObject());
    }

    [Fact]
    public void Offline_has_the_base_shape()
    {
        Assert.Equal("""{"type":"presence","from":"peer-3","data":{"status":"offline"},"timestamp":1764049300.123}""", Text(RelayFrames.Offline("peer-3", Now)));
    }

    [Fact]
    public void Capabilities_response_shape()
    {
        var frame = RelayFrames.CapabilitiesResponse("peer-1", ["chat", "agi"], "team", 3, "1.2.3", Now);

        Assert.Equal(["type", "from", "to", "data", "timestamp"], PropertyNames(frame));
        var json = Parse(frame);
        Assert.Equal("capabilities_response", json.GetProperty("type").GetString());
        Assert.Equal("relay", json.GetProperty("from").GetString());
        Assert.Equal("peer-1", json.GetProperty("to").GetString());
        var data = json.GetProperty("data");
        Assert.Equal(JsonValueKind.Array, data.GetProperty("agentCards").ValueKind);
        Assert.Empty(data.GetProperty("agentCards").EnumerateArray());
        Assert.Equal(["chat", "agi"], data.GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var relay = data.GetProperty("relay");
        Assert.Equal("relay", relay.GetProperty("name").GetString());
        Assert.Equal("1.2.3", relay.GetProperty("version").GetString());
        Assert.Equal("team", relay.GetProperty("mesh").GetString());
        Assert.Equal(3, relay.GetProperty("peers").GetInt32());
        Assert.Equal(Now, json.GetProperty("timestamp").GetDouble());
    }

    [Fact]
    public void Capabilities_response_to_an_unregistered_sender_and_no_agents()
    {
        var frame = RelayFrames.CapabilitiesResponse(null, [], "default", 0, "1", Now);

        Assert.Equal("""{"type":"capabilities_response","from":"relay","data":{"agentCards":[],"activeAgents":[],"relay":{"name":"relay","version":"1","mesh":"default","peers":0}},"timestamp":1764049300.123}""", Text(frame));
    }

    [Fact]
    public void Large_frames_grow_the_buffer()
    {
        var agents = Enumerable.Range(0, 2000).Select(i => $"agent-{i}").ToArray();
        var metadata = "{\"blob\":\"" + new string('x', 100_000) + "\"}";

        var capabilities = Parse(RelayFrames.CapabilitiesResponse("p", agents, "m", 1, "v", Now));
        var presence = Parse(RelayFrames.Presence("p", Utf8(metadata), Now));

        Assert.Equal(2000, capabilities.GetProperty("data").GetProperty("activeAgents").GetArrayLength());
        Assert.Equal(100_000, presence.GetProperty("data").GetProperty("blob").GetString()!.Length);
    }

    [Fact]
    public void Relay_frames_are_never_presence_from_relay()
    {
        var offline = FrameParser.Parse(RelayFrames.Offline("p", Now));
        var error = FrameParser.Parse(RelayFrames.Error("c", "m", "p", default, Now));

        Assert.NotEqual(RelayFrames.RelayId, offline.From);
        Assert.Equal(FrameKind.Broadcast, error.Kind);
        Assert.Equal(RelayFrames.RelayId, error.From);
    }
}

using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Relay.Protocol;

/// <summary>Frames the relay itself sends. Each call returns a fresh UTF-8 JSON byte array.</summary>
public static class RelayFrames
{
    /// <summary>The <c>from</c> of relay-made frames; reserved, no client may register it.</summary>
    public const string RelayId = "relay";

    /// <summary>
    /// <c>{"type":"error","from":"relay","to":…,"data":{"code":…,"error":…},"turnId":…,"timestamp":…}</c>.
    /// <c>to</c> is omitted when null (the sender is not registered yet); <c>turnId</c> is copied raw
    /// when given, so the client can match the error to its turn.
    /// </summary>
    /// <param name="extraDataPropertiesJson">Further <c>data</c> properties as raw JSON, e.g. <c>"count":3</c>.</param>
    public static byte[] Error(string code, string message, string? to, ReadOnlySpan<byte> turnIdRawJson, double now, ReadOnlySpan<byte> extraDataPropertiesJson = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(message);
        var frame = new FrameBuilder(256 + turnIdRawJson.Length + extraDataPropertiesJson.Length);
        frame.Raw("{\"type\":\"error\",\"from\":\"relay\""u8);
        if (to is not null)
        {
            frame.Raw(",\"to\":"u8);
            frame.String(to);
        }

        frame.Raw(",\"data\":{\"code\":"u8);
        frame.String(code);
        frame.Raw(",\"error\":"u8);
        frame.String(message);
        if (!extraDataPropertiesJson.IsEmpty)
        {
            frame.Raw(","u8);
            frame.Raw(extraDataPropertiesJson);
        }

        frame.Raw("}"u8);
        if (!turnIdRawJson.IsEmpty)
        {
            frame.Raw(",\"turnId\":"u8);
            frame.Raw(turnIdRawJson);
        }

        frame.Raw(",\"timestamp\":"u8);
        frame.UnixSeconds(now);
        frame.Raw("}"u8);
        return frame.ToArrayAndRelease();
    }

    /// <summary>
    /// An error that counts something (frames dropped, errors withheld, batches lost): <c>data.error</c> is
    /// "<paramref name="count"/> <paramref name="message"/>" and <c>data.count</c> the count, for clients to read.
    /// </summary>
    public static byte[] CountedError(string code, long count, string message, string? to, double now) =>
        Error(code, string.Create(CultureInfo.InvariantCulture, $"{count} {message}"), to, default, now,
            Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\"count\":{count}")));

    /// <summary>The <c>data</c> property of an <c>ambiguous_target</c> error: <c>"candidates":["peer", …]</c>.</summary>
    public static byte[] CandidatesProperty(IReadOnlyList<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var json = new ArrayBufferWriter<byte>(64);
        json.Write("\"candidates\":"u8);
        // Escaped as System.Text.Json escapes by default, like the relay's other JSON.
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartArray();
            foreach (var candidate in candidates) writer.WriteStringValue(candidate);
            writer.WriteEndArray();
        }
        return json.WrittenSpan.ToArray();
    }

    /// <summary>
    /// <c>{"type":"presence","from":peerId,"data":metadata,"timestamp":…}</c>: a newcomer snapshot entry
    /// or an announce. Empty <paramref name="metadataJson"/> (a presence without data) becomes <c>{}</c>.
    /// </summary>
    public static byte[] Presence(string peerId, ReadOnlySpan<byte> metadataJson, double timestamp)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        var frame = new FrameBuilder(128 + metadataJson.Length);
        frame.Raw("{\"type\":\"presence\",\"from\":"u8);
        frame.String(peerId);
        frame.Raw(",\"data\":"u8);
        frame.Raw(metadataJson.IsEmpty ? "{}"u8 : metadataJson);
        frame.Raw(",\"timestamp\":"u8);
        frame.UnixSeconds(timestamp);
        frame.Raw("}"u8);
        return frame.ToArrayAndRelease();
    }

    /// <summary><c>{"type":"presence","from":peerId,"data":{"status":"offline"},"timestamp":now}</c>.</summary>
    public static byte[] Offline(string peerId, double now)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        var frame = new FrameBuilder(128);
        frame.Raw("{\"type\":\"presence\",\"from\":"u8);
        frame.String(peerId);
        frame.Raw(",\"data\":{\"status\":\"offline\"},\"timestamp\":"u8);
        frame.UnixSeconds(now);
        frame.Raw("}"u8);
        return frame.ToArrayAndRelease();
    }

    /// <summary>
    /// The answer to <c>capabilities</c>/<c>capabilities_request</c>:
    /// <c>{"type":"capabilities_response","from":"relay","to":…,"data":{"agentCards":[],"activeAgents":[…],"relay":{"name":"relay","version":…,"mesh":…,"peers":N}},"timestamp":…}</c>.
    /// </summary>
    public static byte[] CapabilitiesResponse(string? to, IReadOnlyCollection<string> activeAgents, string mesh, int peerCount, string version, double now)
    {
        ArgumentNullException.ThrowIfNull(activeAgents);
        return CapabilitiesResponseWithAgentsJson(to, JsonStringArray(activeAgents), mesh, peerCount, version, now);
    }

    /// <summary>The same answer with <c>activeAgents</c> given as its JSON array (<see cref="JsonStringArray"/>), which
    /// a mesh builds once and shares between answers.</summary>
    public static byte[] CapabilitiesResponseWithAgentsJson(string? to, ReadOnlySpan<byte> activeAgentsJsonArray, string mesh, int peerCount, string version, double now)
    {
        ArgumentNullException.ThrowIfNull(mesh);
        ArgumentNullException.ThrowIfNull(version);
        var frame = new FrameBuilder(256 + activeAgentsJsonArray.Length);
        frame.Raw("{\"type\":\"capabilities_response\",\"from\":\"relay\""u8);
        if (to is not null)
        {
            frame.Raw(",\"to\":"u8);
            frame.String(to);
        }

        frame.Raw(",\"data\":{\"agentCards\":[],\"activeAgents\":"u8);
        frame.Raw(activeAgentsJsonArray);
        frame.Raw(",\"relay\":{\"name\":\"relay\",\"version\":"u8);
        frame.String(version);
        frame.Raw(",\"mesh\":"u8);
        frame.String(mesh);
        frame.Raw(",\"peers\":"u8);
        frame.Integer(peerCount);
        frame.Raw("}},\"timestamp\":"u8);
        frame.UnixSeconds(now);
        frame.Raw("}"u8);
        return frame.ToArrayAndRelease();
    }

    /// <summary><paramref name="values"/> as a JSON array of strings, <c>["a","b"]</c>.</summary>
    public static byte[] JsonStringArray(IReadOnlyCollection<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var array = new FrameBuilder(16 + (values.Count * 32));
        array.Raw("["u8);
        var first = true;
        foreach (var value in values)
        {
            if (!first)
            {
                array.Raw(","u8);
            }

            array.String(value);
            first = false;
        }

        array.Raw("]"u8);
        return array.ToArrayAndRelease();
    }
}

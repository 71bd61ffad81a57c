using System.Text.Json.Serialization;

namespace Relay.Gateway.Endpoints;

/// <summary>HTTP answers of <c>/ping</c> and <c>/invocations</c>, in the exact shapes AgentCore and relay.py use.</summary>
internal sealed record PingResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("time_of_last_update")] long TimeOfLastUpdate);

internal sealed record InvocationsResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("peers")] string[] Peers,
    [property: JsonPropertyName("count")] int Count);

[JsonSerializable(typeof(PingResponse))]
[JsonSerializable(typeof(InvocationsResponse))]
internal sealed partial class RelayJsonContext : JsonSerializerContext;

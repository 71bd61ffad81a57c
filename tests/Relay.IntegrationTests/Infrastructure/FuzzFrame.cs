using System.Net.WebSockets;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// One adversarial WebSocket message and what protocol.md says the relay answers to its sender: an error frame with
/// <see cref="Answer"/> as <c>data.code</c>, a <c>capabilities_response</c> (<see cref="CapabilitiesAnswer"/>), nothing
/// (null: the frame is valid and routed or ignored), or closing the socket with <see cref="Close"/>.
/// </summary>
/// <param name="Pieces">Fragment lengths: empty sends the message whole; otherwise it goes out in fragments.</param>
/// <param name="Description">What the generator meant to produce, for failure messages.</param>
public sealed record FuzzFrame(
    byte[] Payload,
    WebSocketMessageType Kind,
    IReadOnlyList<int> Pieces,
    string? Answer,
    WebSocketCloseStatus? Close,
    string Description)
{
    /// <summary>The <see cref="Answer"/> that stands for a capabilities_response.</summary>
    public const string CapabilitiesAnswer = "capabilities_response";

    public override string ToString()
    {
        var text = Kind == WebSocketMessageType.Binary ? $"binary {Payload.Length} B" : Preview();
        var fragments = Pieces.Count == 0 ? "" : $" in {Pieces.Count + 1} fragments";
        return $"{Description}{fragments}: {text} -> {Close?.ToString() ?? Answer ?? "no answer"}";
    }

    private string Preview()
    {
        var text = System.Text.Encoding.UTF8.GetString(Payload);
        return text.Length > 160 ? $"{text[..80]}...({Payload.Length} B)...{text[^40..]}" : text;
    }
}

using Relay.Gateway.Connections;

namespace Relay.Gateway.Endpoints;

/// <summary>The stream an accepted relay WebSocket runs on, for its connection's writer to coalesce writes
/// (<see cref="WriteCoalescingStream"/>): set by both ways a handshake is served (<see cref="WriteCoalescingUpgrade"/>
/// under ASP.NET Core, <see cref="DirectWebSocketFeature"/> below it).</summary>
internal interface IWebSocketTransportFeature
{
    /// <summary>The transport, once the WebSocket was accepted.</summary>
    WriteCoalescingStream? Transport { get; }
}

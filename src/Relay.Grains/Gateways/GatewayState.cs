namespace Relay.Grains.Gateways;

/// <summary>What a gateway grain persists: its inbox's grain id, as text (grain storage providers serialize state
/// as JSON), so that the entry survives the silo that held the grain.</summary>
[GenerateSerializer, Alias("relay.GatewayState")]
public sealed class GatewayState
{
    [Id(0)] public string? Inbox { get; set; }
}

namespace Relay.Grains.Contracts;

/// <summary>One WebSocket connection in the cluster: the gateway that holds it and its id there.</summary>
[GenerateSerializer, Immutable, Alias("relay.ConnectionKey")]
public readonly record struct ConnectionKey([property: Id(0)] string GatewayId, [property: Id(1)] long ConnectionId)
{
    public override string ToString() => $"{GatewayId}#{ConnectionId}";
}

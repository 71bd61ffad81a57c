using Relay.Grains.Contracts;

namespace Relay.Tests.Infrastructure;

internal static class Keys
{
    /// <summary>Connection keys in a stable order, for comparing sets.</summary>
    public static ConnectionKey[] Sorted(IEnumerable<ConnectionKey> keys) =>
        [.. keys.OrderBy(k => k.GatewayId, StringComparer.Ordinal).ThenBy(k => k.ConnectionId)];

    public static ConnectionKey[] Sorted(params ConnectionKey[] keys) => Sorted((IEnumerable<ConnectionKey>)keys);
}

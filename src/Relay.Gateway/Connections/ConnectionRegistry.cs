using System.Collections.Concurrent;

namespace Relay.Gateway.Connections;

/// <summary>Every connection this node holds, for the periodic sweeps (reaping, stalls, liveness reports).</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, RelayConnection> _connections = new();
    private long _nextId;

    public long NextId() => Interlocked.Increment(ref _nextId);

    public int Count => _connections.Count;

    public void Add(RelayConnection connection) => _connections[connection.Id] = connection;

    public void Remove(RelayConnection connection) => _connections.TryRemove(connection.Id, out _);

    public bool TryGet(long id, out RelayConnection? connection) => _connections.TryGetValue(id, out connection);

    public ICollection<RelayConnection> All => _connections.Values;
}

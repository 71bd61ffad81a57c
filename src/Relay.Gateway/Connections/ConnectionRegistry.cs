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

    /// <summary>Every connection, walked live: lock-free, so one added or removed meanwhile may or may not be seen.
    /// Not <c>ConcurrentDictionary.Values</c>, which copies them all into a new list first: at 18,000 connections
    /// that was a 144 KB large-object allocation per sweep, per liveness report and per metrics scrape.</summary>
    public IEnumerable<RelayConnection> All
    {
        get
        {
            foreach (var (_, connection) in _connections) yield return connection;
        }
    }
}

using System.Net;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The open dashboard event streams of this node, oldest first, bounded by <see cref="DashboardOptions.MaxViewers"/>
/// and <see cref="DashboardOptions.MaxViewersPerAddress"/>. A newcomer is never turned away: idle streams would
/// otherwise lock every later viewer out. When its address holds its maximum, that address's oldest stream ends;
/// when the node holds its maximum, the oldest stream of the address holding the most ends, so that one client
/// opening streams displaces its own before anyone else's. A browser whose stream ended reconnects by itself.
/// </summary>
internal sealed class DashboardStreams(IOptions<DashboardOptions> options)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<ViewerStream> _open = new();

    /// <summary>Streams open now.</summary>
    public int Count
    {
        get { lock (_lock) return _open.Count; }
    }

    /// <summary>Registers a stream from <paramref name="address"/>, ending another one first when a bound is reached.
    /// The caller closes it when it ends.</summary>
    public ViewerStream Open(IPAddress? address)
    {
        var stream = new ViewerStream(this, address?.ToString() ?? string.Empty);
        ViewerStream? evicted;
        lock (_lock)
        {
            evicted = ToEvictFor(stream.Address);
            if (evicted is not null) Remove(evicted);
            stream.Node = _open.AddLast(stream);
        }
        evicted?.End();
        return stream;
    }

    internal void Close(ViewerStream stream)
    {
        lock (_lock) Remove(stream);
    }

    private ViewerStream? ToEvictFor(string address)
    {
        var value = options.Value;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var open in _open) counts[open.Address] = counts.GetValueOrDefault(open.Address) + 1;
        if (counts.GetValueOrDefault(address) >= value.MaxViewersPerAddress) return Oldest(address);
        if (_open.Count < value.MaxViewers) return null;
        // The busiest address's oldest stream; between equally busy addresses, the oldest stream of all.
        var most = counts.Values.Max();
        foreach (var open in _open)
        {
            if (counts[open.Address] == most) return open;
        }
        return null;
    }

    private ViewerStream? Oldest(string address)
    {
        foreach (var open in _open)
        {
            if (open.Address == address) return open;
        }
        return null;
    }

    private void Remove(ViewerStream stream)
    {
        if (stream.Node is { } node)
        {
            _open.Remove(node);
            stream.Node = null;
        }
    }
}

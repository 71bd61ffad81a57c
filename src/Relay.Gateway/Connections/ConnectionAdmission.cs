using System.Net;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Connections;

/// <summary>
/// Counts the WebSockets this node holds, in total and per client address, and refuses an upgrade that would go
/// over <see cref="ConnectionBudget.MaxConnections"/> or <see cref="RelayOptions.MaxConnectionsPerAddress"/>. A slot is
/// taken before the upgrade is accepted and given back exactly once when the request ends, however it ends.
/// </summary>
internal sealed class ConnectionAdmission(IOptions<RelayOptions> options, ConnectionBudget budget)
{
    public enum Refusal { None, NodeFull, AddressFull }

    private readonly RelayOptions _options = options.Value;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _total;

    /// <summary>Slots taken now (for tests and diagnostics).</summary>
    public int Count
    {
        get { lock (_lock) return _total; }
    }

    /// <summary>Slots taken by <paramref name="address"/> now.</summary>
    public int CountOf(IPAddress address)
    {
        lock (_lock) return _perAddress.GetValueOrDefault(Normalize(address));
    }

    /// <summary>Takes a slot for a client at <paramref name="address"/>, or says which limit is reached.</summary>
    public Slot? TryAdmit(IPAddress address, out Refusal refusal)
    {
        address = Normalize(address);
        lock (_lock)
        {
            var mine = _perAddress.GetValueOrDefault(address);
            refusal = _total >= budget.MaxConnections ? Refusal.NodeFull
                : mine >= _options.MaxConnectionsPerAddress ? Refusal.AddressFull
                : Refusal.None;
            if (refusal != Refusal.None) return null;
            _total++;
            _perAddress[address] = mine + 1;
        }
        return new Slot(this, address);
    }

    private void Release(IPAddress address)
    {
        lock (_lock)
        {
            _total--;
            // Entries go with their last slot, so the table holds only addresses with open connections.
            if (--_perAddress[address] == 0) _perAddress.Remove(address);
        }
    }

    // An IPv4 client may arrive as ::ffff:a.b.c.d on a dual-stack socket: one client, one count.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>One admitted connection's place in the counts; disposing it (once or more) gives it back once.</summary>
    public sealed class Slot(ConnectionAdmission owner, IPAddress address) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(address);
        }
    }
}

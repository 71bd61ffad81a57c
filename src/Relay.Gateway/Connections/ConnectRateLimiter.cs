using System.Net;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// How fast one client address may open WebSockets on this node (<see cref="RelayOptions.ConnectsPerSecondPerAddress"/>,
/// bursts of <see cref="RelayOptions.ConnectBurstPerAddress"/>): every connect and close of a registered client sends
/// each other peer of its mesh a presence and an offline, so connect/close churn from one address would otherwise be
/// a flood for everybody else. An upgrade over the rate is refused before anything is accepted (HTTP 429).
/// </summary>
/// <remarks>
/// One token bucket per address, in a table bounded by <see cref="MaxTrackedAddresses"/>. A bucket that has refilled
/// to its burst behaves as a new one, so such buckets are forgotten by a sweep at most once per refill period (run
/// when a new address arrives). When the table is full of addresses that all connected within that period, a further
/// new address is let through untracked: that many addresses are a distributed flood, which the node's connection
/// limit bounds, and refusing newcomers would lock out legitimate clients instead.
/// </remarks>
internal sealed class ConnectRateLimiter
{
    public const int MaxTrackedAddresses = 65_536;

    private readonly RelayOptions _options;
    private readonly TimeProvider _time;
    private readonly long _refillTicks;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, TokenBucket> _buckets = [];
    private long _nextSweep;

    public ConnectRateLimiter(IOptions<RelayOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _refillTicks = (long)Math.Ceiling(_options.ConnectBurstPerAddress / _options.ConnectsPerSecondPerAddress * time.TimestampFrequency);
        _nextSweep = time.GetTimestamp() + _refillTicks;
    }

    /// <summary>How long a refused client should wait: until its bucket holds a token again.</summary>
    public TimeSpan RetryAfter => TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(1 / _options.ConnectsPerSecondPerAddress)));

    /// <summary>Addresses with a bucket now (for tests and diagnostics).</summary>
    public int TrackedAddresses
    {
        get { lock (_lock) return _buckets.Count; }
    }

    /// <summary>Counts an upgrade from <paramref name="address"/>; false when the address is over its rate.</summary>
    public bool TryConnect(IPAddress address)
    {
        address = Normalize(address);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(address, out var bucket))
            {
                if (now >= _nextSweep) Sweep(now);
                if (_buckets.Count >= MaxTrackedAddresses) return true;
                bucket = new TokenBucket(_options.ConnectsPerSecondPerAddress, _options.ConnectBurstPerAddress, now, _time.TimestampFrequency);
                _buckets[address] = bucket;
            }
            return bucket.TryTake(now); // under the lock: buckets are not synchronised
        }
    }

    private void Sweep(long now)
    {
        _nextSweep = now + _refillTicks;
        foreach (var (address, bucket) in _buckets)
        {
            if (bucket.IsFull(now)) _buckets.Remove(address);
        }
    }

    // An IPv4 client may arrive as ::ffff:a.b.c.d on a dual-stack socket: one client, one bucket.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}

using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>The connect rate per client address (issue #17 item 4): a burst, then the sustained rate, per address; the
/// table of addresses forgets those whose bucket has refilled.</summary>
public sealed class ConnectRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly ConnectRateLimiter _limiter;

    public ConnectRateLimiterTests() =>
        _limiter = new ConnectRateLimiter(Options.Create(new RelayOptions { ConnectsPerSecondPerAddress = 2, ConnectBurstPerAddress = 4 }), _time);

    [Fact]
    public void An_address_gets_its_burst_then_the_sustained_rate_and_other_addresses_their_own()
    {
        var churner = IPAddress.Parse("10.0.0.1");
        for (var i = 0; i < 4; i++) Assert.True(_limiter.TryConnect(churner));
        Assert.False(_limiter.TryConnect(churner));
        Assert.True(_limiter.TryConnect(IPAddress.Parse("10.0.0.2")));

        _time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(_limiter.TryConnect(churner));
        Assert.False(_limiter.TryConnect(churner));
        Assert.Equal(TimeSpan.FromSeconds(1), _limiter.RetryAfter);
    }

    [Fact]
    public void An_IPv4_client_on_a_dual_stack_socket_is_one_address()
    {
        var v4 = IPAddress.Parse("10.0.0.1");
        for (var i = 0; i < 2; i++) Assert.True(_limiter.TryConnect(v4));
        for (var i = 0; i < 2; i++) Assert.True(_limiter.TryConnect(v4.MapToIPv6()));
        Assert.False(_limiter.TryConnect(v4));
    }

    [Fact]
    public void Addresses_whose_bucket_has_refilled_are_forgotten()
    {
        for (var i = 0; i < 100; i++) Assert.True(_limiter.TryConnect(new IPAddress([10, 1, 0, (byte)i])));
        Assert.Equal(100, _limiter.TrackedAddresses);

        // A refill period (burst / rate = 2 s) later, the next new address sweeps the table.
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(_limiter.TryConnect(IPAddress.Parse("10.2.0.1")));
        Assert.Equal(1, _limiter.TrackedAddresses);
    }
}

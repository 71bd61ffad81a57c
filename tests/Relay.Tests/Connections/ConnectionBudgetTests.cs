using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Gateway.Connections;
using Relay.Gateway.Hosting;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>Issue 14: the connection limit a node derives from its open-file limit, and a configured one held to it.</summary>
public sealed class ConnectionBudgetTests
{
    [Theory]
    [InlineData(20_000, 18_976)]
    [InlineData(1_048_576, 1_047_552)]
    [InlineData(1_000, 500)] // too small to keep the whole headroom aside: half of it
    [InlineData(1, 1)]
    public void The_open_file_limit_allows_itself_less_the_headroom(long limit, int allowed) =>
        Assert.Equal(allowed, ConnectionBudget.AllowedBy(limit));

    [Theory]
    [InlineData(null, 20_000L, 18_976)] // unset: what the limit allows
    [InlineData(5_000, 20_000L, 5_000)] // set below it: as set
    [InlineData(1_000_000, 20_000L, 18_976)] // set above it: held to it
    [InlineData(null, null, ConnectionBudget.DefaultWithoutLimit)] // no limit known
    [InlineData(7, null, 7)]
    public void The_node_holds_the_configured_limit_at_most_what_the_open_file_limit_allows(int? configured, long? openFiles, int expected) =>
        Assert.Equal(expected, new ConnectionBudget(configured, openFiles, NullLogger<ConnectionBudget>.Instance).MaxConnections);

    [Fact]
    public void The_limit_read_is_the_one_the_kernel_reports_for_this_process() // Linux, as every process test here
    {
        var line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Equal(long.Parse(soft, CultureInfo.InvariantCulture), OpenFileLimit.Current);
    }
}

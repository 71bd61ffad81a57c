using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Gateway.Cluster;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Protocol;

namespace Relay.Tests.Infrastructure;

/// <summary>Gateway pieces built by hand, without a server, for tests of one class of the gateway.</summary>
internal static class TestConnections
{
    /// <summary>A connection over <paramref name="socket"/> with generous limits (1 MiB send queue), on
    /// <paramref name="time"/> (the system's clock unless given).</summary>
    public static RelayConnection Create(long id, string mesh, WebSocket socket, WriteCoalescingStream? transport = null, TimeProvider? time = null)
    {
        var now = Stopwatch.GetTimestamp();
        return new RelayConnection(
            id, mesh, socket, transport, sendQueueBytes: 1 << 20, time ?? TimeProvider.System, new Lock(), echo: null, redactor: null,
            new TokenBucket(100, 100, now, Stopwatch.Frequency), new TokenBucket(1 << 20, 1 << 20, now, Stopwatch.Frequency),
            static () => new ErrorGate(new TokenBucket(10, 10, Stopwatch.GetTimestamp(), Stopwatch.Frequency)));
    }

    /// <summary>Links of a gateway that has already stopped: whatever is put on them is dropped, never sent.</summary>
    public static GatewayLinks StoppedLinks()
    {
        var metrics = new RelayMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
        var losses = new LinkLossReporter(new ConnectionRegistry(), new ErrorReplies(metrics, TimeProvider.System), metrics, NullLogger<LinkLossReporter>.Instance);
        return new GatewayLinks(cluster: null!, new GatewayIdentity(), losses, metrics, TimeProvider.System, new StoppedLifetime(), NullLogger<GatewayLinks>.Instance);
    }

    private sealed class StoppedLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => new(canceled: true);

        public CancellationToken ApplicationStopping => new(canceled: true);

        public CancellationToken ApplicationStopped => new(canceled: true);

        public void StopApplication()
        {
        }
    }
}

using System.Threading.Channels;
using Orleans.Streams;
using Relay.Grains.Contracts;
using Xunit;

namespace Relay.Tests.Infrastructure;

/// <summary>An event a probe received, with its arrival time (unix seconds).</summary>
public sealed record ReceivedEvent(GatewayEvent Event, double At);

/// <summary>
/// Stands in for a gateway: subscribes (from the cluster client) to that gateway's event stream and queues what
/// arrives, in order, for the test to await.
/// </summary>
public sealed class GatewayProbe : IAsyncDisposable
{
    private readonly Channel<ReceivedEvent> _events = Channel.CreateUnbounded<ReceivedEvent>();
    private StreamSubscriptionHandle<GatewayEvent>? _handle;

    private GatewayProbe(string gatewayId) => GatewayId = gatewayId;

    public string GatewayId { get; }

    public static async Task<GatewayProbe> SubscribeAsync(IClusterClient client, string gatewayId)
    {
        var probe = new GatewayProbe(gatewayId);
        var stream = client.GetStreamProvider(GatewayStreams.Provider).GetStream<GatewayEvent>(GatewayStreams.For(gatewayId));
        probe._handle = await stream.SubscribeAsync((item, _) =>
        {
            probe._events.Writer.TryWrite(new ReceivedEvent(item, Unix.Now()));
            return Task.CompletedTask;
        });
        return probe;
    }

    /// <summary>The next <see cref="PeerReaped"/> on this gateway's stream, skipping the mesh's gateway
    /// membership events; with <paramref name="offlineOnly"/>, also skipping partial expiries (the peer keeps
    /// other connections).</summary>
    public async Task<(PeerReaped Reaped, double At)> NextReapedAsync(TimeSpan timeout, bool offlineOnly = true)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            ReceivedEvent received;
            try
            {
                received = await _events.Reader.ReadAsync().AsTask().WaitAsync(deadline - DateTime.UtcNow);
            }
            catch (Exception ex) when (ex is TimeoutException or ArgumentOutOfRangeException)
            {
                throw new TimeoutException($"Gateway {GatewayId} got no reap within {timeout}.");
            }
            if (received.Event is GatewayJoinedMesh or GatewayLeftMesh) continue;
            var reaped = Assert.IsType<PeerReaped>(received.Event);
            if (offlineOnly && !reaped.Offline) continue;
            return (reaped, received.At);
        }
    }

    /// <summary>Events that arrived and were not read yet.</summary>
    public int Pending => _events.Reader.Count;

    public async ValueTask DisposeAsync()
    {
        if (_handle is not null) await _handle.UnsubscribeAsync();
    }
}

using System.Threading.Channels;
using Orleans.Streams;
using Relay.Grains.Contracts;
using Xunit;

namespace Relay.Tests.Grains;

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

    /// <summary>The next event on this gateway's stream; it must be a <see cref="PeerReaped"/>.</summary>
    public async Task<(PeerReaped Reaped, double At)> NextReapedAsync(TimeSpan timeout)
    {
        ReceivedEvent received;
        try
        {
            received = await _events.Reader.ReadAsync().AsTask().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Gateway {GatewayId} got no event within {timeout}.");
        }
        var reaped = Assert.IsType<PeerReaped>(received.Event);
        return (reaped, received.At);
    }

    /// <summary>Events that arrived and were not read yet.</summary>
    public int Pending => _events.Reader.Count;

    public async ValueTask DisposeAsync()
    {
        if (_handle is not null) await _handle.UnsubscribeAsync();
    }
}

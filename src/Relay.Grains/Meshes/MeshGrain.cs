using Microsoft.Extensions.Logging;
using Relay.Grains.Contracts;

namespace Relay.Grains.Meshes;

/// <inheritdoc cref="IMeshGrain"/>
internal sealed partial class MeshGrain(ILogger<MeshGrain> logger) : Grain, IMeshGrain
{
    private readonly Dictionary<string, RosterEntry> _roster = new(StringComparer.Ordinal);

    // Gateways that ever held a member: few (one per node), so never trimmed; a gateway without members
    // ignores events about peers it does not hold.
    private readonly HashSet<string> _gateways = new(StringComparer.Ordinal);

    public Task Upsert(RosterEntry entry, string gatewayId)
    {
        _roster[entry.PeerId] = entry;
        _gateways.Add(gatewayId);
        return Task.CompletedTask;
    }

    public Task Remove(string peerId)
    {
        _roster.Remove(peerId);
        return Task.CompletedTask;
    }

    public async Task Reaped(string peerId, long incarnation, ConnectionKey[] connections)
    {
        _roster.Remove(peerId);
        var mesh = this.GetPrimaryKeyString();
        var reaped = new PeerReaped(mesh, peerId, incarnation, connections);
        var streams = this.GetStreamProvider(GatewayStreams.Provider);
        foreach (var gateway in _gateways)
        {
            try
            {
                await streams.GetStream<GatewayEvent>(GatewayStreams.For(gateway)).OnNextAsync(reaped);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // One unreachable gateway must not keep the others from hearing about the offline.
                Log.PublishFailed(logger, ex, mesh, gateway);
            }
        }
    }

    public Task<RosterEntry[]> GetRoster() => Task.FromResult(_roster.Values.ToArray());

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
            Message = "Mesh {Mesh}: could not tell gateway {Gateway} about a reaped peer")]
        public static partial void PublishFailed(ILogger logger, Exception exception, string mesh, string gateway);
    }
}

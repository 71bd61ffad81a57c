using System.Diagnostics.Metrics;
using Relay.Gateway.Connections;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Hosting;

/// <summary>
/// Observable gauges of meter "Relay", read at collection time (a scrape), so they cost nothing per frame:
/// registered peers on this node (summed over its meshes, no per-mesh tag: mesh names are client-chosen) and the
/// bytes waiting in send queues (summed over its connections). Created with the gateway (see <c>UseRelay</c>).
/// </summary>
internal sealed class RelayGauges
{
    public RelayGauges(IMeterFactory meters, MeshRegistry meshes, ConnectionRegistry connections)
    {
        var meter = meters.Create(RelayMetrics.MeterName);
        meter.CreateObservableGauge("relay.peers", () => PeerCount(meshes), "{peer}",
            "Peers in the meshes this node serves (local and remote connections' peer ids)");
        meter.CreateObservableGauge("relay.meshes", () => (long)meshes.Snapshot().Length, "{mesh}",
            "Meshes with open connections on this node");
        meter.CreateObservableGauge("relay.send_queue.bytes", () => QueuedBytes(connections), "By",
            "Bytes waiting in the send queues of this node's connections");
    }

    private static long PeerCount(MeshRegistry meshes)
    {
        long total = 0;
        foreach (var mesh in meshes.Snapshot()) total += mesh.Membership.PeerCount;
        return total;
    }

    private static long QueuedBytes(ConnectionRegistry connections)
    {
        long total = 0;
        foreach (var connection in connections.All) total += connection.QueuedBytes;
        return total;
    }
}

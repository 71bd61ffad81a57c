using System.Text.Json;
using System.Text.Json.Serialization;

namespace Relay.Gateway.Dashboard;

/// <summary>What one dashboard update shows (one server-sent event, JSON). Every list is bounded: see
/// <see cref="DashboardViews"/>. Peer metadata is the redacted presence <c>data</c> newcomers' snapshots carry;
/// nothing here is ever a token or a principal.</summary>
internal sealed record DashboardView(
    string Node,
    long Time,
    bool Draining,
    int Connections,
    NodeInfo[] Nodes,
    string? NodesError,
    int MeshCount,
    MeshInfo[] Meshes,
    RatePoint[] Rates,
    DisconnectInfo[] Disconnects);

/// <summary>A node of the cluster: an Orleans silo (from the management grain) or a relay gateway (this one, and
/// the gateways this node shares meshes with).</summary>
internal sealed record NodeInfo(string Kind, string Name, string Address, string Status, bool Self);

/// <summary>A mesh this node serves, with up to <see cref="DashboardViews.MaxPeersPerMesh"/> of its peers
/// (<see cref="PeerCount"/> counts them all).</summary>
internal sealed record MeshInfo(string Name, int PeerCount, PeerInfo[] Peers);

/// <summary>An online peer: its presence metadata as raw JSON (null when larger than
/// <see cref="DashboardViews.MaxMetadataBytes"/>; <see cref="MetadataBytes"/> says how large), and its connections on
/// this node and on other gateways.</summary>
internal sealed record PeerInfo(string Id, string? Metadata, int MetadataBytes, int Local, int Remote, double LastSeen);

/// <summary>One second of traffic on this node: frames received from clients, frames written to them, connections
/// closed (by anyone).</summary>
internal readonly record struct RatePoint(
    [property: JsonPropertyName("t")] long UnixSeconds,
    [property: JsonPropertyName("in")] long Received,
    [property: JsonPropertyName("out")] long Sent,
    [property: JsonPropertyName("closed")] long Disconnects);

/// <summary>A connection that closed, or a peer reaped for silence, on this node.</summary>
internal sealed record DisconnectInfo(long Time, string Mesh, string? Peer, int? Code, string Reason);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DashboardView))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;

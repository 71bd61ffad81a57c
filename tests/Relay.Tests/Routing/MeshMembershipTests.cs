using System.Net.WebSockets;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Routing;

/// <summary>
/// What one mesh remembers of the peers that left: bounded by <see cref="MeshMembership.MaxDeparted"/> however the
/// peers churn, so that a long-lived mesh does not keep a record per departure for good.
/// </summary>
public sealed class MeshMembershipTests
{
    private readonly MeshMembership _membership = new("gw-test");
    private long _nextId;

    [Fact]
    public void A_peer_that_keeps_leaving_and_coming_back_keeps_the_departures_bounded()
    {
        var cycles = MeshMembership.MaxDeparted * 3;
        for (var incarnation = 1; incarnation <= cycles; incarnation++)
        {
            var connection = Connect("flaky", incarnation);
            _membership.RemoveLocal(connection);
            _membership.MarkDeparted("flaky", incarnation);
        }

        Assert.InRange(_membership.DeparturesRemembered, 1, MeshMembership.MaxDeparted);
        Assert.True(_membership.IsDeparted("flaky", cycles));
        Assert.Equal(0, _membership.PeerCount);
    }

    [Fact]
    public void Departures_of_distinct_peers_forget_the_oldest_beyond_the_bound()
    {
        var departures = MeshMembership.MaxDeparted + 500;
        for (var i = 0; i < departures; i++)
        {
            var connection = Connect($"peer-{i}", incarnation: 1);
            _membership.RemoveLocal(connection);
            _membership.MarkDeparted($"peer-{i}", 1);
        }

        Assert.Equal(MeshMembership.MaxDeparted, _membership.DeparturesRemembered);
        Assert.False(_membership.IsDeparted("peer-0", 1));
        Assert.True(_membership.IsDeparted($"peer-{departures - 1}", 1));
        Assert.Equal(0, _membership.PeerCount);
    }

    private RelayConnection Connect(string peerId, long incarnation)
    {
        var connection = TestConnections.Create(++_nextId, "mesh", WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true }));
        connection.PeerId = peerId;
        _membership.AddLocal(connection, incarnation, "{}"u8.ToArray(), now: 0);
        return connection;
    }
}

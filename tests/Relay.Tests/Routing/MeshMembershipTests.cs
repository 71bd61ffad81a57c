using System.Net.WebSockets;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Routing;

/// <summary>
/// What one mesh remembers of the peers that left: bounded by <see cref="MeshMembership.MaxDeparted"/> however the
/// peers churn, so that a long-lived mesh does not keep a record per departure for good. And its agent index: direct
/// lookups and the capabilities listing follow every change of the members' agents (issue #17 item 4).
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

    [Fact]
    public void Agent_lookups_follow_every_change_of_the_members_agents()
    {
        var a = Connect("a", 1, ["chat", "agi"]);
        var b = Connect("b", 1, ["chat"]);
        _membership.AddRemote("r", 1, new ConnectionKey("gw-other", 7), ["remote-agent", "chat"], "{}"u8.ToArray(), lastSeen: 0);

        Assert.Equal(["a"], ListingsOf("agi"));
        Assert.Equal(["a", "b", "r"], ListingsOf("chat"));
        Assert.Equal(["r"], ListingsOf("remote-agent"));
        Assert.Empty(ListingsOf("nobody"));

        // A later presence of a: agi goes, search comes; listing an agent twice lists the connection once.
        a.Agents = ["chat", "search", "search"];
        _membership.UpdateAgents(a);
        Assert.Empty(ListingsOf("agi"));
        Assert.Equal(["a"], ListingsOf("search"));

        // Departures, here and on the other gateway.
        _membership.RemoveLocal(b);
        _membership.RemoveRemote("r", [new ConnectionKey("gw-other", 7)]);
        Assert.Equal(["a"], ListingsOf("chat"));
        Assert.Empty(ListingsOf("remote-agent"));
        Assert.Equal(["chat", "search"], _membership.ActiveAgents());
    }

    [Fact]
    public void The_capabilities_listing_is_built_again_only_when_the_set_of_agents_changes()
    {
        var a = Connect("a", 1, ["chat", "agi"]);
        var first = _membership.ActiveAgentListing();
        Assert.Equal("[\"agi\",\"chat\"]", System.Text.Encoding.UTF8.GetString(first.JsonArray));

        // The same agents again, and another connection listing a known agent: nothing to rebuild.
        a.Agents = ["chat", "agi"];
        _membership.UpdateAgents(a);
        Connect("b", 1, ["chat"]);
        Assert.Same(first, _membership.ActiveAgentListing());

        // A new agent name, and the last listing of one going away: rebuilt each time.
        Connect("c", 1, ["zeta"]);
        var second = _membership.ActiveAgentListing();
        Assert.NotSame(first, second);
        Assert.Equal(["agi", "chat", "zeta"], second.Agents);
        _membership.RemoveLocal(a);
        Assert.Equal(["chat", "zeta"], _membership.ActiveAgentListing().Agents);
    }

    private string[] ListingsOf(string agent)
    {
        var into = new List<AgentListing<MeshMember>>();
        _membership.FindAgentListings(agent, into);
        return [.. into.Select(l => l.PeerId).Order(StringComparer.Ordinal)];
    }

    private RelayConnection Connect(string peerId, long incarnation, string[]? agents = null)
    {
        var connection = TestConnections.Create(++_nextId, "mesh", WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true }));
        connection.PeerId = peerId;
        connection.Agents = agents;
        _membership.AddLocal(connection, incarnation, "{}"u8.ToArray(), now: 0);
        connection.Registered = true; // as MeshView.Register sets it, under the same lock
        return connection;
    }
}

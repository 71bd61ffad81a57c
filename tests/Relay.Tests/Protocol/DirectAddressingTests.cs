using Relay.Protocol;
using Xunit;

namespace Relay.Tests.Protocol;

public class DirectAddressingTests
{
    private sealed class Conn(string peerId, params string[] agents)
    {
        public string PeerId { get; } = peerId;

        public string[] Agents { get; } = agents;

        public override string ToString() => PeerId;
    }

    private sealed class Directory(params Conn[] connections) : IAgentDirectory<Conn>
    {
        public List<string> Lookups { get; } = [];

        public bool IsOnlinePeer(string peerId) => connections.Any(c => c.PeerId == peerId);

        public void FindAgentListings(string agent, List<AgentListing<Conn>> into)
        {
            Lookups.Add(agent);
            foreach (var connection in connections.Where(c => c.Agents.Contains(agent)))
            {
                into.Add(new AgentListing<Conn>(connection.PeerId, connection));
            }
        }
    }

    private static readonly List<AgentListing<Conn>> Scratch = [];

    private static DirectResolution<Conn> Resolve(Directory directory, string sender, string? to, string? targetInstanceId = null, string[]? senderAgents = null) =>
        DirectAddressing.Resolve(directory, sender, senderAgents, to, targetInstanceId, Scratch);

    [Fact]
    public void To_naming_an_online_peer_goes_to_that_peer()
    {
        var directory = new Directory(new Conn("me", "chat"), new Conn("p2", "chat"));

        var result = Resolve(directory, "me", "p2", "p3");

        Assert.Equal(DirectRoute.Peer, result.Route);
        Assert.Equal("p2", result.PeerId);
        Assert.Null(result.Connection);
        Assert.Empty(directory.Lookups);
    }

    [Fact]
    public void Target_instance_id_is_used_when_to_is_an_agent()
    {
        var directory = new Directory(new Conn("me"), new Conn("p2", "chat"), new Conn("p3", "chat"));

        var result = Resolve(directory, "me", "chat", "p3");

        Assert.Equal(DirectRoute.Peer, result.Route);
        Assert.Equal("p3", result.PeerId);
    }

    [Fact]
    public void Offline_target_instance_id_falls_through_to_agent_listings()
    {
        var directory = new Directory(new Conn("me"), new Conn("p2", "chat"));

        var result = Resolve(directory, "me", "chat", "gone");

        Assert.Equal(DirectRoute.AgentConnection, result.Route);
        Assert.Equal("p2", result.PeerId);
    }

    [Fact]
    public void Own_agent_is_a_local_conversation()
    {
        var directory = new Directory(new Conn("me", "chat"), new Conn("p2", "chat"));

        var result = Resolve(directory, "me", "chat", senderAgents: ["agi", "chat"]);

        Assert.Equal(DirectRoute.LocalConversation, result.Route);
        Assert.Null(result.PeerId);
        Assert.Empty(directory.Lookups);
    }

    [Fact]
    public void Peer_id_beats_own_agent_of_the_same_name()
    {
        var directory = new Directory(new Conn("me", "chat"), new Conn("chat"));

        Assert.Equal(DirectRoute.Peer, Resolve(directory, "me", "chat", senderAgents: ["chat"]).Route);
    }

    [Fact]
    public void Single_listing_of_another_peer_is_that_connection()
    {
        var theirs = new Conn("p2", "chat");
        var directory = new Directory(new Conn("me"), theirs, new Conn("p3", "agi"));

        var result = Resolve(directory, "me", "chat");

        Assert.Equal(DirectRoute.AgentConnection, result.Route);
        Assert.Equal("p2", result.PeerId);
        Assert.Same(theirs, result.Connection);
        Assert.Equal(["chat"], directory.Lookups);
    }

    [Fact]
    public void Own_connections_listing_the_agent_are_skipped()
    {
        var theirs = new Conn("p2", "chat");
        var directory = new Directory(new Conn("me", "chat"), new Conn("me", "chat"), theirs);

        var result = Resolve(directory, "me", "chat");

        Assert.Equal(DirectRoute.AgentConnection, result.Route);
        Assert.Same(theirs, result.Connection);
    }

    [Fact]
    public void Only_own_connections_listing_the_agent_is_unknown()
    {
        var directory = new Directory(new Conn("me", "chat"));

        Assert.Equal(DirectRoute.Unknown, Resolve(directory, "me", "chat").Route);
    }

    [Fact]
    public void Several_listings_are_ambiguous_with_sorted_distinct_candidates()
    {
        var directory = new Directory(new Conn("me", "chat"), new Conn("zeta", "chat"), new Conn("Alpha", "chat"), new Conn("beta", "chat"), new Conn("beta", "chat"));

        var result = Resolve(directory, "me", "chat");

        Assert.Equal(DirectRoute.Ambiguous, result.Route);
        Assert.Equal(["Alpha", "beta", "zeta"], result.Candidates!);
        Assert.Null(result.Connection);
    }

    [Fact]
    public void Two_connections_of_one_other_peer_are_ambiguous_with_one_candidate()
    {
        var directory = new Directory(new Conn("p2", "chat"), new Conn("p2", "chat"));

        var result = Resolve(directory, "me", "chat");

        Assert.Equal(DirectRoute.Ambiguous, result.Route);
        Assert.Equal(["p2"], result.Candidates!);
    }

    [Fact]
    public void Same_connection_listed_twice_is_not_ambiguous()
    {
        var theirs = new Conn("p2", "chat");
        var directory = new DuplicatingDirectory(theirs);

        var result = DirectAddressing.Resolve(directory, "me", null, "chat", null, Scratch);

        Assert.Equal(DirectRoute.AgentConnection, result.Route);
        Assert.Same(theirs, result.Connection);
    }

    [Fact]
    public void Nothing_matching_is_unknown()
    {
        var directory = new Directory(new Conn("me"), new Conn("p2", "agi"));

        var result = Resolve(directory, "me", "chat");

        Assert.Equal(DirectRoute.Unknown, result.Route);
        Assert.Null(result.PeerId);
        Assert.Null(result.Candidates);
    }

    [Fact]
    public void Addressed_to_own_peer_id_reaches_nobody()
    {
        var directory = new Directory(new Conn("me"), new Conn("p2"));

        Assert.Equal(DirectRoute.Unknown, Resolve(directory, "me", "me").Route);
        Assert.Equal(DirectRoute.Unknown, Resolve(directory, "me", "chat", "me").Route);
    }

    [Fact]
    public void Own_peer_id_in_to_still_honours_target_instance_id()
    {
        var directory = new Directory(new Conn("me"), new Conn("p2"));

        var result = Resolve(directory, "me", "me", "p2");

        Assert.Equal(DirectRoute.Peer, result.Route);
        Assert.Equal("p2", result.PeerId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Missing_to_is_unknown(string? to)
    {
        var directory = new Directory(new Conn("p2", ""));

        Assert.Equal(DirectRoute.Unknown, Resolve(directory, "me", to, "p2").Route);
        Assert.Empty(directory.Lookups);
    }

    [Fact]
    public void Scratch_list_is_left_empty()
    {
        var scratch = new List<AgentListing<Conn>> { new("stale", new Conn("stale")) };
        var directory = new Directory(new Conn("p2", "chat"));

        var result = DirectAddressing.Resolve(directory, "me", null, "chat", null, scratch);

        Assert.Equal("p2", result.PeerId);
        Assert.Empty(scratch);
    }

    private sealed class DuplicatingDirectory(Conn connection) : IAgentDirectory<Conn>
    {
        public bool IsOnlinePeer(string peerId) => false;

        public void FindAgentListings(string agent, List<AgentListing<Conn>> into)
        {
            into.Add(new AgentListing<Conn>(connection.PeerId, connection));
            into.Add(new AgentListing<Conn>(connection.PeerId, connection));
        }
    }
}

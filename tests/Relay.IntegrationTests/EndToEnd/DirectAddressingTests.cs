using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Direct addressing": <c>to</c> resolves, skipping the sender's own connections, to a peer
/// id, else <c>targetInstanceId</c>, else the sender's own agent (local conversation), else the one connection
/// listing the agent; several: <c>ambiguous_target</c>; none: <c>unknown_target</c>. Real clients address every
/// direct to an agent name.</summary>
public sealed class DirectAddressingTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    private static object Agents(params object[] agents) => new { agents };

    private static bool IsDirectWith(JsonElement f, string tag) => Frame.IsType(f, "direct") && Frame.DataStr(f, "tag") == tag;

    [Fact]
    public async Task To_a_peer_id_goes_to_that_peer_even_when_another_lists_an_agent_of_that_name()
    {
        var b = await JoinAsync();
        var a = await JoinAsync(data: Agents(b.Id)); // even the sender lists an agent named like peer b
        var c = await JoinAsync(data: Agents(b.Id));

        await a.SendAsync(new { type = "direct", to = b.Id, targetInstanceId = c.Id, data = new { tag = "1" } });
        await b.WaitForAsync(f => IsDirectWith(f, "1"));
        await FlushAsync(a, b, c);
        Assert.DoesNotContain(c.Received, f => IsDirectWith(f, "1"));
    }

    [Fact]
    public async Task TargetInstanceId_names_the_peer_when_to_is_an_agent_name()
    {
        var a = await JoinAsync();
        var b = await JoinAsync(data: Agents("agi", "chat"));
        var c = await JoinAsync(data: Agents("agi"));

        // "agi" alone would be ambiguous; targetInstanceId picks the remote peer.
        await a.SendAsync(new { type = "direct", to = "agi", targetInstanceId = c.Id, data = new { tag = "2" }, turnId = "t" });
        var frame = await c.WaitForAsync(f => IsDirectWith(f, "2"));
        Assert.Equal("agi", Frame.Str(frame, "to"));
        Assert.Equal(c.Id, Frame.Str(frame, "targetInstanceId"));
        Assert.Equal(a.Id, Frame.Sender(frame));

        // It goes to that peer even when that peer does not list the agent.
        await a.SendAsync(new { type = "direct", to = "not-listed-anywhere", targetInstanceId = b.Id, data = new { tag = "3" } });
        await b.WaitForAsync(f => IsDirectWith(f, "3"));

        await FlushAsync(a, c, b, c, a);
        Assert.DoesNotContain(b.Received, f => IsDirectWith(f, "2"));
        Assert.DoesNotContain(c.Received, f => IsDirectWith(f, "3"));
        Assert.DoesNotContain(a.Received, Frame.IsRelayError);
    }

    [Fact]
    public async Task To_an_agent_of_the_senders_own_presence_is_a_local_conversation_delivered_nowhere_without_error()
    {
        var a = await JoinAsync(data: Agents("chat", "agi"));
        var b = await JoinAsync(data: Agents("chat"));
        var c = await JoinAsync(data: Agents("agi"));

        await a.SendAsync(new { type = "direct", to = "chat", data = new { tag = "local" } });
        await a.SendAsync(new { type = "direct", to = "agi", from = "chat", data = new { tag = "local" } });

        await FlushAsync(a, b, b, c);
        await a.SyncAsync();
        Assert.DoesNotContain(b.Received, f => IsDirectWith(f, "local"));
        Assert.DoesNotContain(c.Received, f => IsDirectWith(f, "local"));
        Assert.DoesNotContain(a.Received, f => IsDirectWith(f, "local") || Frame.IsRelayError(f));
    }

    [Fact]
    public async Task To_an_agent_listed_by_exactly_one_other_connection_goes_to_that_connection_only()
    {
        var a = await JoinAsync(data: Agents("chat"));
        var bId = TestPeer.NewId("b");
        var b1 = await JoinAsync(bId, Agents("chat", new { name = "researcher", description = "objects with a name count" }));
        var b2 = await JoinAsync(bId, Agents("chat")); // another tab of b, without the agent
        var c = await JoinAsync(data: Agents("agi"));

        await a.SendAsync(new { type = "direct", to = "researcher", data = new { tag = "r" }, turnId = "turn-r" });
        var frame = await b1.WaitForAsync(f => IsDirectWith(f, "r"));
        Assert.Equal(a.Id, Frame.Sender(frame));
        Assert.Equal("turn-r", Frame.Str(frame, "turnId"));

        await FlushAsync(a, b1, b2, c, a);
        Assert.DoesNotContain(b2.Received, f => IsDirectWith(f, "r"));
        Assert.DoesNotContain(c.Received, f => IsDirectWith(f, "r"));
        Assert.DoesNotContain(a.Received, Frame.IsRelayError);
    }

    [Fact]
    public async Task Agent_listed_by_several_peers_is_ambiguous_with_their_ids_as_candidates_and_not_delivered()
    {
        var a = await JoinAsync();
        var b = await JoinAsync(data: Agents("agi", "chat"));
        var c = await JoinAsync(data: Agents(new { name = "agi" }));
        var d = await JoinAsync(data: Agents("other"));

        await a.SendAsync(new { type = "direct", to = "agi", data = new { tag = "amb" }, turnId = "turn-amb" });
        var error = await a.WaitForAsync(f => Frame.IsError(f, "ambiguous_target"));
        Assert.Equal("turn-amb", Frame.Str(error, "turnId"));
        Assert.Equal(a.Id, Frame.Str(error, "to"));
        var candidates = error.GetProperty("data").GetProperty("candidates").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(new[] { b.Id, c.Id }.Order(StringComparer.Ordinal), candidates.Order(StringComparer.Ordinal));

        await FlushAsync(a, d, b, c);
        Assert.DoesNotContain(b.Received, f => IsDirectWith(f, "amb"));
        Assert.DoesNotContain(c.Received, f => IsDirectWith(f, "amb"));
    }

    [Fact]
    public async Task Agent_listed_by_several_connections_of_one_peer_is_ambiguous()
    {
        var a = await JoinAsync();
        var bId = TestPeer.NewId("b");
        var b1 = await JoinAsync(bId, Agents("agi"));
        var b2 = await JoinAsync(bId, Agents("agi"));

        await a.SendAsync(new { type = "direct", to = "agi", data = new { tag = "amb2" } });
        var error = await a.WaitForAsync(f => Frame.IsError(f, "ambiguous_target"));
        Assert.Equal([bId], error.GetProperty("data").GetProperty("candidates").EnumerateArray().Select(e => e.GetString()!));
        await FlushAsync(a, b1, b2, b1);
        Assert.DoesNotContain(b1.Received, f => IsDirectWith(f, "amb2"));
        Assert.DoesNotContain(b2.Received, f => IsDirectWith(f, "amb2"));
    }

    [Fact]
    public async Task Direct_that_resolves_to_nothing_is_unknown_target()
    {
        var a = await JoinAsync(data: Agents("chat"));
        var b = await JoinAsync(data: Agents("chat"));
        var departed = await JoinAsync(data: Agents("gone-agent"));
        await departed.CloseAsync();
        await a.WaitForAsync(f => Frame.IsOfflineOf(f, departed.Id));

        await a.SendAsync(new { type = "direct", to = "no-such-agent", data = new { tag = "u1" }, turnId = "u1" });
        await a.SendAsync(new { type = "direct", to = departed.Id, data = new { tag = "u2" }, turnId = "u2" });
        await a.SendAsync(new { type = "direct", to = "gone-agent", data = new { tag = "u3" }, turnId = "u3" });
        await a.SendAsync(new { type = "direct", to = "no-such-agent", targetInstanceId = "no-such-peer", data = new { tag = "u4" }, turnId = "u4" });
        await a.SendAsync(new { type = "direct", data = new { tag = "u5" }, turnId = "u5" });

        var errors = await a.WaitForCountAsync(Frame.IsRelayError, 5);
        Assert.All(errors, e => Assert.Equal("unknown_target", Frame.DataStr(e, "code")));
        Assert.Equal(["u1", "u2", "u3", "u4", "u5"], errors.Select(e => Frame.Str(e, "turnId")!));
        await FlushAsync(a, b, b);
        Assert.DoesNotContain(b.Received, f => Frame.IsType(f, "direct"));
    }

    [Fact]
    public async Task Direct_to_the_senders_own_id_or_own_other_tabs_agents_reaches_nobody()
    {
        var observer = await JoinAsync(data: Agents("x"));
        var id = TestPeer.NewId("self");
        var tab1 = await JoinAsync(id);
        var tab2 = await JoinAsync(id, Agents("solo"));

        await tab1.SendAsync(new { type = "direct", to = id, data = new { tag = "s1" }, turnId = "s1" });
        await tab1.SendAsync(new { type = "direct", to = "x", targetInstanceId = id, data = new { tag = "s2" }, turnId = "s2" });
        await tab1.SendAsync(new { type = "direct", to = "solo", data = new { tag = "s3" }, turnId = "s3" });

        var errors = await tab1.WaitForCountAsync(Frame.IsRelayError, 2);
        Assert.Equal(["s1", "s3"], errors.Select(e => Frame.Str(e, "turnId")!));
        Assert.All(errors, e => Assert.Equal("unknown_target", Frame.DataStr(e, "code")));
        // targetInstanceId naming itself is skipped and "x" resolves to the observer's agent.
        await observer.WaitForAsync(f => IsDirectWith(f, "s2"));

        await FlushAsync(tab1, observer, tab2, tab1);
        Assert.DoesNotContain(tab2.Received, f => Frame.IsType(f, "direct"));
        Assert.DoesNotContain(tab1.Received, f => Frame.IsType(f, "direct"));
        Assert.Equal(2, tab1.Count(Frame.IsRelayError));
    }

    [Fact]
    public async Task Latest_presence_decides_who_lists_an_agent()
    {
        var a = await JoinAsync();
        var b = await JoinAsync(data: Agents("writer"));

        await b.RegisterAsync(Agents("reader")); // no longer lists "writer"
        await a.SendAsync(new { type = "direct", to = "writer", data = new { tag = "w" } });
        await a.WaitForAsync(f => Frame.IsError(f, "unknown_target"));
        await a.SendAsync(new { type = "direct", to = "reader", data = new { tag = "r" } });
        await b.WaitForAsync(f => IsDirectWith(f, "r"));

        // The sender's own latest presence decides local conversations too.
        await a.RegisterAsync(Agents("reader"));
        await a.SendAsync(new { type = "direct", to = "reader", data = new { tag = "local" } });
        await FlushAsync(a, b, b, a);
        Assert.DoesNotContain(b.Received, f => IsDirectWith(f, "local") || IsDirectWith(f, "w"));
        Assert.Single(a.Received, Frame.IsRelayError);
    }
}

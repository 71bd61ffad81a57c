using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Echo suppression": the real clients re-broadcast every invoke, broadcast and ring-update
/// they receive, under their own from with data unchanged; the relay ends that loop at its first hop.</summary>
public sealed class EchoSuppressionTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Makes <paramref name="peer"/> behave like agent-mesh.js: every invoke, broadcast and ring-update it
    /// receives is sent again under its own from, data unchanged (here re-serialized with other whitespace).</summary>
    private static void Rebroadcasts(TestPeer peer) =>
        peer.OnFrame = async (self, frame) =>
        {
            var type = Frame.Type(frame);
            if (type is not ("invoke" or "broadcast" or "ring-update")) return;
            var data = JsonSerializer.Serialize(frame.GetProperty("data"), Indented);
            await self.SendAsync($$"""{ "type" : "{{type}}", "from" : "{{self.Id}}", "data" : {{data}} , "timestamp": {{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}} }""");
        };

    [Theory]
    [InlineData("ring-update", 2)]
    [InlineData("ring-update", 3)]
    [InlineData("invoke", 3)]
    [InlineData("broadcast", 2)]
    public async Task Clients_rebroadcasting_everything_they_receive_stop_at_the_first_hop(string type, int clients)
    {
        var peers = new List<TestPeer>();
        for (var i = 0; i < clients; i++)
        {
            var peer = await JoinAsync(data: new { agents = new[] { "chat" } });
            Rebroadcasts(peer);
            peers.Add(peer);
        }
        var origin = peers[0];
        var others = peers.Skip(1).ToArray();

        // Every chat message makes a ring-update.
        await origin.SendAsync(new { type, from = origin.Id, data = new { ring = new[] { "a", "b" }, turn = Guid.NewGuid().ToString("N"), nested = new { n = 1.5 } } });
        foreach (var other in others) await other.WaitForAsync(f => Frame.IsType(f, type));

        // Each re-broadcast was sent before the frame that caused it became visible; one marker round from every
        // peer to every other proves that whatever the relay forwarded of them has arrived.
        foreach (var peer in peers) await peer.MarkAsync([.. peers.Where(p => p != peer)]);

        Assert.Equal(0, origin.Count(f => Frame.IsType(f, type)));
        foreach (var other in others) Assert.Equal(1, other.Count(f => Frame.IsType(f, type)));
        Assert.All(peers, p => Assert.Equal(WebSocketState.Open, p.State));
        Assert.All(peers, p => Assert.DoesNotContain(p.Received, Frame.IsRelayError));
    }

    [Fact]
    public async Task Two_browsers_chatting_keep_talking_without_a_loop()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        Rebroadcasts(a);
        Rebroadcasts(b);

        for (var message = 0; message < 5; message++)
        {
            var (speaker, listener) = message % 2 == 0 ? (a, b) : (b, a);
            await speaker.SendAsync(new { type = "ring-update", data = new { message, text = $"hello {message}" } });
            await listener.WaitForAsync(f => Frame.IsType(f, "ring-update") && Frame.Seq(f) is null &&
                f.GetProperty("data").GetProperty("message").GetInt32() == message);
        }
        await a.MarkAsync(b);
        await b.MarkAsync(a);
        Assert.Equal(3, b.Count(f => Frame.IsType(f, "ring-update")));
        Assert.Equal(2, a.Count(f => Frame.IsType(f, "ring-update")));
    }

    [Fact]
    public async Task The_originator_may_send_the_same_frame_again()
    {
        // Suppression is per receiving connection: the sender never received it, so its repeat is no echo.
        var a = await JoinAsync();
        var b = await JoinAsync();
        var frame = new { type = "ring-update", data = new { same = "data" } };
        await a.SendAsync(frame);
        await a.SendAsync(frame);
        await b.WaitForCountAsync(f => Frame.IsType(f, "ring-update"), 2);
    }

    [Fact]
    public async Task Same_data_with_another_type_or_other_data_is_not_an_echo()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        await a.SendAsync(new { type = "ring-update", data = new { v = 1 } });
        await b.WaitForAsync(f => Frame.IsType(f, "ring-update"));

        await b.SendAsync(new { type = "ring-update", data = new { v = 2 } });     // other data
        await b.SendAsync(new { type = "broadcast", data = new { v = 1 } });       // other type
        await b.SendAsync(new { type = "stream", data = new { v = 1 } });          // not a suppressed type
        await b.SendAsync(new { type = "direct", to = a.Id, data = new { v = 1 } });
        await b.SendAsync(new { type = "ring-update", data = new { v = 1, more = true } });
        await b.SendAsync(new { type = "ring-update", data = new { v = 1 } });     // the echo
        await b.MarkAsync(a);

        var fromB = a.All(f => Frame.Sender(f) == b.Id && !Frame.IsType(f, TestPeer.MarkerType) && !Frame.IsType(f, "presence"));
        Assert.Equal(["ring-update", "broadcast", "stream", "direct", "ring-update"], fromB.Select(f => Frame.Type(f)!));
    }

    [Fact]
    public async Task Echo_is_recognised_whatever_the_whitespace_of_its_data()
    {
        var a = await JoinAsync();
        var b = await JoinAsync();
        await a.SendAsync("""{"type":"invoke","data":{"prompt":"hi","args":[1,2,{"k":"v"}]}}""");
        await b.WaitForAsync(f => Frame.IsType(f, "invoke"));
        await b.SendAsync("""{"type":"invoke","from":"agi","data":  {  "prompt" : "hi" ,"args":[ 1 , 2 , { "k" :"v" } ] } }""");
        await b.MarkAsync(a);
        Assert.Equal(0, a.Count(f => Frame.IsType(f, "invoke")));
    }

    [Fact]
    public async Task Echo_is_delivered_again_after_the_echo_window()
    {
        await StartRelayAsync("Relay:EchoWindow=00:00:00.300");
        var a = await JoinAsync();
        var b = await JoinAsync();
        await a.SendAsync(new { type = "ring-update", data = new { v = 1 } });
        await b.WaitForAsync(f => Frame.IsType(f, "ring-update"));
        // The window itself is what is tested here: the echo must be older than it.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await b.SendAsync(new { type = "ring-update", data = new { v = 1 } });
        await a.WaitForAsync(f => Frame.IsType(f, "ring-update"));
    }

    [Fact]
    public async Task Echo_suppression_can_be_turned_off()
    {
        await StartRelayAsync("Relay:EchoWindow=00:00:00");
        var a = await JoinAsync();
        var b = await JoinAsync();
        await a.SendAsync(new { type = "ring-update", data = new { v = 1 } });
        await b.WaitForAsync(f => Frame.IsType(f, "ring-update"));
        await b.SendAsync(new { type = "ring-update", data = new { v = 1 } });
        await a.WaitForAsync(f => Frame.IsType(f, "ring-update"));
    }
}

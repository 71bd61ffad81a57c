using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Newcomer snapshot", "Repeated presence", "Offline" and "Never a word about the
/// departed".</summary>
public sealed class PresenceTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    [Fact]
    public async Task Newcomer_gets_one_presence_per_other_peer_with_its_latest_metadata_then_is_announced()
    {
        var start = UnixNow();
        var a = await JoinAsync(data: new { v = 1 });
        await a.RegisterAsync(new { v = 2, agents = new[] { "chat" } }); // update before the newcomer arrives
        var b = await JoinAsync(data: new { name = "bee" });
        var unregistered = await ConnectAsync();
        await unregistered.SyncAsync();

        var c = await ConnectAsync();
        var snapshot = await c.RegisterAsync(new { name = "newcomer" });
        var end = UnixNow();

        Assert.Equal(2, snapshot.Count);
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), snapshot.Select(f => Frame.From(f)!).Order(StringComparer.Ordinal));
        var ofA = snapshot.Single(f => Frame.From(f) == a.Id);
        var ofB = snapshot.Single(f => Frame.From(f) == b.Id);
        foreach (var entry in snapshot)
        {
            Assert.Equal(["data", "from", "timestamp", "type"], entry.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal("presence", Frame.Type(entry));
            AssertUnixSeconds(entry.GetProperty("timestamp"), start, end);
        }
        Assert.True(JsonElement.DeepEquals(Json("""{"v":2,"agents":["chat"]}"""), ofA.GetProperty("data")), ofA.ToString());
        Assert.True(JsonElement.DeepEquals(Json("""{"name":"bee"}"""), ofB.GetProperty("data")), ofB.ToString());
        Assert.DoesNotContain(c.Received, f => Frame.From(f) == unregistered.Id || Frame.From(f) == c.Id);

        foreach (var other in new[] { a, b })
        {
            var announced = await other.WaitForAsync(f => Frame.IsPresenceOf(f, c.Id));
            Assert.Equal("newcomer", Frame.DataStr(announced, "name"));
        }
        await c.SyncAsync();
        Assert.Equal(0, unregistered.Count(f => Frame.IsType(f, "presence")));
    }

    [Fact]
    public async Task Newcomer_hears_of_each_peer_in_its_snapshot_before_any_frame_of_that_peer()
    {
        var a = await JoinAsync();
        using var stop = new CancellationTokenSource();
        var streaming = Task.Run(async () =>
        {
            for (var seq = 0; !stop.IsCancellationRequested; seq++) await a.SendAsync(new { type = "stream", data = new { seq } });
        });
        var newcomer = await ConnectAsync();
        try
        {
            await newcomer.RegisterAsync();
            await newcomer.WaitForAsync(f => Frame.IsType(f, "stream") && Frame.Sender(f) == a.Id);
        }
        finally
        {
            await stop.CancelAsync();
            await streaming;
        }
        var first = newcomer.Received.First(f => Frame.From(f) == a.Id || Frame.Sender(f) == a.Id);
        Assert.True(Frame.IsPresenceOf(first, a.Id) && !first.TryGetProperty("sender", out _),
            "the first frame naming the peer should be its snapshot entry: " + first);
    }

    [Fact]
    public async Task Snapshot_timestamp_is_the_peers_last_presence_time()
    {
        var a = await JoinAsync(data: new { v = 1 });
        var c = await ConnectAsync();
        var snapshot = await c.RegisterAsync();
        var first = snapshot.Single(f => Frame.From(f) == a.Id).GetProperty("timestamp").GetDouble();

        var before = UnixNow();
        await a.RegisterAsync(new { v = 2 });
        var d = await ConnectAsync();
        var later = (await d.RegisterAsync()).Single(f => Frame.From(f) == a.Id).GetProperty("timestamp").GetDouble();
        Assert.True(later >= first, $"{later} < {first}");
        Assert.InRange(later, before - 1, UnixNow() + 1);
    }

    [Fact]
    public async Task Empty_mesh_gives_an_empty_snapshot()
    {
        var a = await ConnectAsync();
        Assert.Empty(await a.RegisterAsync());
    }

    [Fact]
    public async Task Repeated_presence_updates_metadata_and_is_rebroadcast_without_a_new_snapshot()
    {
        var a = await JoinAsync(data: new { v = "a" });
        var b = await ConnectAsync();
        var snapshot = await b.RegisterAsync(new { v = 1 });
        Assert.Single(snapshot);
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        var again = await b.RegisterAsync(new { v = 2, agents = new[] { "new-agent" } });
        Assert.Empty(again);
        var update = await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        Assert.True(JsonElement.DeepEquals(Json("""{"v":2,"agents":["new-agent"]}"""), update.GetProperty("data")));
        Assert.Equal(1, b.Count(f => Frame.IsPresenceOf(f, a.Id)));

        var c = await ConnectAsync();
        var fresh = await c.RegisterAsync();
        var ofB = fresh.Single(f => Frame.From(f) == b.Id);
        Assert.True(JsonElement.DeepEquals(Json("""{"v":2,"agents":["new-agent"]}"""), ofB.GetProperty("data")));
        var capabilities = await c.SyncAsync();
        Assert.Contains("new-agent", capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Presence_without_data_registers_with_empty_metadata()
    {
        var a = await JoinAsync();
        var b = await ConnectAsync();
        await b.SendAsync(new { type = "presence", from = b.Id });
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));
        var c = await ConnectAsync();
        var entry = (await c.RegisterAsync()).Single(f => Frame.From(f) == b.Id);
        Assert.True(entry.TryGetProperty("data", out var data));
        Assert.True(data.ValueKind is JsonValueKind.Object, entry.ToString());
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}

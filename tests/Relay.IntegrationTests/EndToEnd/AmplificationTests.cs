using System.Diagnostics;
using System.Globalization;
using System.Net;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// Issue #17 item 4, amplification: what one client can make the relay spend on everybody else. Agents beyond
/// <c>MaxAgentsPerPeer</c>, frames as large as allowed at the allowed frame rate, and connect/close churn from one
/// address, each bounded (protocol.md "Limits"); the capabilities flood is in <see cref="AmplificationLatencyTests"/>.
/// </summary>
public sealed class AmplificationTests(ITestOutputHelper output) : EndToEndTest
{
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Third = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task A_presence_over_MaxAgentsPerPeer_is_forwarded_whole_and_only_its_first_agents_are_addressable()
    {
        await StartRelayAsync("Relay:MaxAgentsPerPeer=3");
        var observer = await JoinAsync();
        var many = await ConnectAsync();
        await many.RegisterAsync(new { agents = new[] { "a1", "a2", "a3", "a4", "a5" } });

        var error = await many.WaitForAsync(f => Frame.IsError(f, "too_many_agents"));
        Assert.Contains("first 3", Frame.DataStr(error, "error"), StringComparison.Ordinal);
        var announced = await observer.WaitForAsync(f => Frame.IsPresenceOf(f, many.Id));
        Assert.Equal(5, Frame.Data(announced)!.Value.GetProperty("agents").GetArrayLength()); // forwarded untouched

        var capabilities = await observer.SyncAsync();
        Assert.Equal(["a1", "a2", "a3"], capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(a => a.GetString()!));

        await observer.SendAsync(new { type = "direct", to = "a3", data = new { marker = "to-a3" } });
        await many.WaitForAsync(f => Frame.IsType(f, "direct") && Frame.MarkerOf(f) == "to-a3");
        await observer.SendAsync(new { type = "direct", to = "a4", data = new { marker = "to-a4" } });
        await observer.WaitForAsync(f => Frame.IsError(f, "unknown_target"));

        // A later presence within the cap: no error, and every agent it lists counts.
        await many.PresenceAsync(new { agents = new[] { "a4" } });
        await many.SyncAsync();
        Assert.Single(many.All(f => Frame.IsError(f, "too_many_agents")));
        var after = await observer.SyncAsync();
        Assert.Equal(["a4"], after.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(a => a.GetString()!));
    }

    [Fact]
    public async Task Frames_beyond_the_byte_budget_are_dropped_with_byte_rate_limited_and_receivers_get_a_bounded_number_of_bytes()
    {
        // The default byte budget (1 MiB/s, bursts of 4 MiB). Receivers' queues hold everything forwarded to them, so
        // what they get is what the budget let through, not what their queues kept.
        await StartRelayAsync("Relay:SendQueueBytes=67108864");
        const int FrameBytes = 1024 * 1024 - 1024;
        const int Frames = 12;
        const double Rate = 1024 * 1024, Burst = 4 * 1024 * 1024;
        var receivers = new[] { await JoinAsync(), await JoinAsync(), await JoinAsync() };
        var sender = await JoinAsync();

        var watch = Stopwatch.StartNew();
        var pad = new string('x', FrameBytes - 64);
        for (var seq = 0; seq < Frames; seq++) await sender.SendAsync($"{{\"type\":\"stream\",\"data\":{{\"seq\":{seq},\"pad\":\"{pad}\"}}}}");
        await sender.MarkAsync(receivers); // every big frame the relay forwarded has arrived
        var seconds = watch.Elapsed.TotalSeconds;

        var allowed = (int)Math.Floor((Burst + (Rate * seconds)) / FrameBytes);
        foreach (var receiver in receivers)
        {
            var delivered = receiver.Count(f => Frame.IsType(f, "stream"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{delivered} of {Frames} frames delivered in {seconds:0.00} s (budget: {allowed})"));
            Assert.InRange(delivered, (int)(Burst / FrameBytes), allowed);
        }
        var refused = await sender.WaitForAsync(f => Frame.IsError(f, "byte_rate_limited"));
        Assert.Contains("bytes/s", Frame.DataStr(refused, "error"), StringComparison.Ordinal);
        Assert.False(sender.HasEnded);
    }

    [Fact]
    public async Task Connect_churn_from_one_address_gets_429_after_the_burst_and_other_addresses_still_connect()
    {
        await StartRelayAsync("Relay:ConnectsPerSecondPerAddress=0.5", "Relay:ConnectBurstPerAddress=5");
        var bystander = await ConnectToAsync(MeshUri(), from: Third);
        await bystander.RegisterAsync();

        // Connect, register, close, as fast as the client can: each accepted cycle is a presence and an offline for
        // the bystander.
        var watch = Stopwatch.StartNew();
        var accepted = new List<string>();
        var refused = 0;
        for (var cycle = 0; cycle < 20; cycle++)
        {
            var (peer, status, _) = await TestPeer.TryConnectAsync(MeshUri());
            if (peer is null)
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, status);
                refused++;
                continue;
            }
            await using (peer)
            {
                await peer.RegisterAsync();
                await peer.CloseAsync();
            }
            accepted.Add(peer.Id);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        Assert.True(refused > 0, "churn beyond the burst was refused");
        Assert.InRange(accepted.Count, 5, 5 + (int)Math.Ceiling(seconds * 0.5));

        var answer = await RefusedUpgrade.AttemptAsync(MeshUri());
        Assert.Equal(HttpStatusCode.TooManyRequests, answer.Status);
        Assert.Equal("2", answer.RetryAfter); // until the next token: 1 / 0.5 per second

        // Another address is not affected, and the bystander heard only the accepted cycles.
        var other = await ConnectToAsync(MeshUri(), from: Second);
        await other.RegisterAsync();
        foreach (var id in accepted) await bystander.WaitForAsync(f => Frame.IsOfflineOf(f, id));
        await other.MarkAsync(bystander);
        Assert.Equal(accepted.Count * 2, bystander.Count(f => Frame.IsType(f, "presence") && accepted.Contains(Frame.From(f)!)));
    }
}

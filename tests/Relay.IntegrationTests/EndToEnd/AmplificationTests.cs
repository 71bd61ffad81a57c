using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Routing;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// Issue #17 item 4, amplification: what one client can make the relay spend on everybody else. Capabilities floods
/// from peers listing thousands of agents, frames as large as allowed at the allowed frame rate, and connect/close
/// churn from one address, each bounded (protocol.md "Limits": <c>MaxAgentsPerPeer</c>, the byte rate, the connect
/// rate per address).
/// </summary>
public sealed class AmplificationTests(ITestOutputHelper output) : EndToEndTest
{
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Third = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task A_bystanders_direct_round_trip_p99_stays_under_5_ms_while_four_peers_listing_thousands_of_agents_flood_capabilities()
    {
        await StartRelayAsync(); // the defaults, as an operator runs it
        await using var bystander = await DirectRoundTrips.ConnectAsync(MeshUri());
        var quiet = await bystander.MeasureAsync(100); // warm-up: the paths are compiled before anything is measured
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"before the flood: p99 {DirectRoundTrips.P99(quiet).TotalMilliseconds:0.00} ms"));

        // As tried in the issue: 6,789 agents each (within the 64 KiB metadata limit), capabilities near the frame
        // rate limit (200/s sustained).
        var floods = new List<CapabilitiesFlood>();
        try
        {
            for (var k = 0; k < 4; k++)
            {
                floods.Add(await CapabilitiesFlood.StartAsync(MeshUri(), TestPeer.NewId("flood"), $"f{k}", agents: 6789, framesPerSecond: 190));
            }
            foreach (var flood in floods) await WaitUntilAsync(() => flood.Answers > 20, "the flood is answered");

            // The attack is capped: the mesh lists MaxAgentsPerPeer agents of each flood, and the bystander's one.
            var cap = Relay.Services.GetRequiredService<IOptions<RelayOptions>>().Value.MaxAgentsPerPeer;
            var mesh = Relay.Services.GetRequiredService<MeshRegistry>().Find(Mesh)!;
            Assert.Equal((4 * cap) + 1, mesh.Membership.ActiveAgents().Length);

            // The bound is on the attack's sustained effect: a window disturbed by other processes on a shared machine
            // is measured again (at most ten windows of about a second, each with the attack running throughout).
            var p99s = new List<TimeSpan>();
            for (var window = 0; window < 10; window++)
            {
                var answersBefore = floods.Sum(f => f.Answers);
                var times = await bystander.MeasureAsync(200, pause: TimeSpan.FromMilliseconds(3));
                var answered = floods.Sum(f => f.Answers) - answersBefore;
                var p99 = DirectRoundTrips.P99(times);
                p99s.Add(p99);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"window {window}: p50 {times.Order().ElementAt(100).TotalMilliseconds:0.00} ms, p99 {p99.TotalMilliseconds:0.00} ms, slowest {string.Join(" ", times.OrderDescending().Take(5).Select(t => t.TotalMilliseconds.ToString("0.00", CultureInfo.InvariantCulture)))} ms, {answered} flood frames answered meanwhile"));
                Assert.True(answered > 0, "the flood ran during the measurement");
                if (p99 < TimeSpan.FromMilliseconds(5)) return;
            }
            Assert.Fail($"a bystander's direct round trip p99 was {string.Join(", ", p99s.Select(p => $"{p.TotalMilliseconds:0.0} ms"))} (bound: 5 ms)");
        }
        finally
        {
            foreach (var flood in floods) await flood.DisposeAsync();
        }
    }

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

    /// <summary>Polls (bounded) for what only the clients' counters show.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TestPeer.DefaultTimeout) throw new TimeoutException($"not within {TestPeer.DefaultTimeout}: {what}");
            await Task.Delay(20);
        }
    }
}

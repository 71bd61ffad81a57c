using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "What the real clients do": agi.diy's agent-mesh.js, played frame by frame.</summary>
public sealed class RealClientTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    private const string AccessToken = "eyJraWQiOiJrMSJ9.eyJzdWIiOiJicm93c2VyIn0.c2lnbmF0dXJl-secret";

    /// <summary>Opens the URL as typed (root path, token in the query) and sends the clients' first four frames.</summary>
    private async Task<(TestPeer Client, string Url)> StartLikeAgentMeshJsAsync(string[] agents)
    {
        var uri = MeshUri(path: "/", extraQuery: $"&access_token={AccessToken}");
        var url = uri.OriginalString;
        var client = await ConnectToAsync(uri, TestPeer.NewId("browser"));
        await client.SendAsync(new { type = "relay-log", data = new { level = "info", message = $"Connecting to {url}" }, timestamp = Millis() });
        await client.SendAsync(new { type = "capabilities" });
        await client.SendAsync(new { type = "presence", from = client.Id, data = new { agents, status = "online" } });
        await client.SendAsync(new { type = "relay-connected", data = new { url, message = $"Connected to {url}" }, timestamp = Millis() });
        return (client, url);
    }

    private static long Millis() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Startup_sequence_registers_the_client_and_keeps_its_URL_and_log_off_the_mesh()
    {
        var observer = await JoinAsync(data: new { agents = new[] { "agi" } });
        var (client, _) = await StartLikeAgentMeshJsAsync(["chat", "agi"]);

        // relay-log came before registration: refused, not forwarded.
        await client.WaitForAsync(f => Frame.IsError(f, "not_registered"));
        var capabilities = await client.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        Assert.Contains("agi", capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()));
        var snapshotEntry = await client.WaitForAsync(f => Frame.IsPresenceOf(f, observer.Id));
        Assert.Equal("agi", snapshotEntry.GetProperty("data").GetProperty("agents")[0].GetString());

        var presence = await observer.WaitForAsync(f => Frame.IsPresenceOf(f, client.Id));
        Assert.Equal(JsonValueKind.Number, presence.GetProperty("timestamp").ValueKind); // presence had none: the relay's
        var connected = await observer.WaitForAsync(f => Frame.IsType(f, "relay-connected"));
        Assert.Equal(client.Id, Frame.Sender(connected));
        Assert.Equal(client.Id, Frame.From(connected));
        Assert.DoesNotContain(AccessToken, connected.GetRawText(), StringComparison.Ordinal);
        Assert.Contains("[redacted]", Frame.DataStr(connected, "url"), StringComparison.Ordinal);
        Assert.True(observer.Received.ToList().FindIndex(f => Frame.IsPresenceOf(f, client.Id))
            < observer.Received.ToList().FindIndex(f => Frame.IsType(f, "relay-connected")));

        await client.MarkAsync(observer);
        Assert.DoesNotContain(observer.Received, f => Frame.Type(f) is "relay-log" or "capabilities");
        Assert.DoesNotContain(observer.ReceivedRaw, raw => raw.Contains(AccessToken, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_browsers_and_a_second_tab_chat_with_directs_to_agent_names_without_a_loop()
    {
        var (alice, _) = await StartLikeAgentMeshJsAsync(["chat", "agi"]);
        await alice.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        var (bob, _) = await StartLikeAgentMeshJsAsync(["chat", "agi", "coder"]);
        await bob.WaitForAsync(f => Frame.IsType(f, "capabilities_response"));
        await alice.WaitForAsync(f => Frame.IsPresenceOf(f, bob.Id));
        var bobTab = await ConnectToAsync(bob.Uri, bob.Id); // same localStorage id
        await bobTab.RegisterAsync(new { agents = new[] { "chat", "agi", "coder" } });

        foreach (var browser in new[] { alice, bob, bobTab })
        {
            browser.OnFrame = async (self, frame) =>
            {
                if (Frame.Type(frame) is "invoke" or "broadcast" or "ring-update")
                {
                    await self.SendAsync(new { type = Frame.Type(frame), from = self.Id, data = frame.GetProperty("data") });
                }
            };
        }

        // Alice's chat agent talks to Bob's remote "coder" (targetInstanceId), and to her own "agi" (local).
        await alice.SendAsync(new { type = "direct", from = "chat", to = "coder", targetInstanceId = bob.Id, data = new { text = "remote" }, turnId = "t1" });
        await alice.SendAsync(new { type = "direct", from = "chat", to = "agi", data = new { text = "local" }, turnId = "t2" });
        await alice.SendAsync(new { type = "ring-update", from = alice.Id, data = new { ring = new[] { alice.Id, bob.Id }, message = "hi" } });

        foreach (var tab in new[] { bob, bobTab })
        {
            var direct = await tab.WaitForAsync(f => Frame.IsType(f, "direct"));
            Assert.Equal("remote", Frame.DataStr(direct, "text"));
            await tab.WaitForAsync(f => Frame.IsType(f, "ring-update"));
        }
        foreach (var browser in new[] { alice, bob, bobTab })
        {
            await browser.MarkAsync([.. new[] { alice, bob, bobTab }.Where(p => p.Id != browser.Id)]);
        }

        Assert.Equal(0, alice.Count(f => Frame.IsType(f, "ring-update")));
        Assert.Equal(1, bob.Count(f => Frame.IsType(f, "ring-update")));
        Assert.Equal(1, bobTab.Count(f => Frame.IsType(f, "ring-update")));
        Assert.Equal(1, bob.Count(f => Frame.IsType(f, "direct")));
        Assert.DoesNotContain(alice.Received, f => Frame.IsRelayError(f) && Frame.DataStr(f, "code") != "not_registered");
        Assert.All(new[] { alice, bob, bobTab }, p => Assert.Equal(WebSocketState.Open, p.State));
    }
}

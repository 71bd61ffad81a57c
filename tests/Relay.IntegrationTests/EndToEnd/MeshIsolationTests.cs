using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>protocol.md "Meshes": <c>?mesh=</c> partitions peers; nothing crosses meshes.</summary>
public sealed class MeshIsolationTests(SharedRelay shared) : EndToEndTest(shared.Relay), IClassFixture<SharedRelay>
{
    private string MeshA => Mesh + "-a";

    private string MeshB => Mesh + "-b";

    [Fact]
    public async Task Presence_snapshots_broadcasts_and_directs_stay_in_their_mesh()
    {
        // The same peer id in both meshes is two different peers.
        var dupA = await JoinAsync("dup", new { mesh = "a", agents = new[] { "only-in-a" } }, MeshA);
        var a = await JoinAsync(mesh: MeshA);
        var dupB = await JoinAsync("dup", new { mesh = "b", agents = new[] { "only-in-b" } }, MeshB);
        var b = await ConnectAsync(mesh: MeshB);
        var snapshotB = await b.RegisterAsync(new { agents = new[] { "b-agent" } });

        Assert.Single(snapshotB);
        Assert.Equal("b", snapshotB[0].GetProperty("data").GetProperty("mesh").GetString());
        await dupB.WaitForAsync(f => Frame.IsPresenceOf(f, b.Id));

        await a.SendAsync(new { type = "broadcast", data = new { tag = "a-broadcast" } });
        await a.SendAsync(new { type = "direct", to = "dup", data = new { tag = "a-direct" } });
        await a.SendAsync(new { type = "direct", to = b.Id, data = new { tag = "a-to-b" }, turnId = "cross-id" });
        await a.SendAsync(new { type = "direct", to = "only-in-b", data = new { tag = "a-to-b-agent" }, turnId = "cross-agent" });
        await a.SendAsync(new { type = "direct", to = "dup", from = "x", targetInstanceId = b.Id, data = new { tag = "a-direct-2" } });

        var direct = await dupA.WaitForCountAsync(f => Frame.IsType(f, "direct"), 2);
        Assert.Equal(["a-direct", "a-direct-2"], direct.Select(f => Frame.DataStr(f, "tag")!));
        var errors = await a.WaitForCountAsync(Frame.IsRelayError, 2);
        Assert.All(errors, e => Assert.Equal("unknown_target", Frame.DataStr(e, "code")));
        Assert.Equal(["cross-id", "cross-agent"], errors.Select(e => Frame.Str(e, "turnId")!));

        await FlushAsync(a, dupA, b, dupB);
        foreach (var peer in new[] { b, dupB })
        {
            Assert.DoesNotContain(peer.Received, f => Frame.Sender(f) == a.Id || Frame.From(f) == a.Id || Frame.DataStr(f, "tag") is not null);
            Assert.DoesNotContain(peer.Received, f => Frame.IsType(f, "presence") && Frame.DataStr(f, "mesh") == "a");
        }

        var capabilities = await a.SyncAsync();
        var active = capabilities.GetProperty("data").GetProperty("activeAgents").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("only-in-a", active);
        Assert.DoesNotContain("only-in-b", active);
        Assert.DoesNotContain("b-agent", active);

        Assert.Equal(new[] { "dup", a.Id }.Order(StringComparer.Ordinal), PeersOf(await InvocationsAsync(MeshA)));
        Assert.Equal(new[] { "dup", b.Id }.Order(StringComparer.Ordinal), PeersOf(await InvocationsAsync(MeshB)));
    }

    [Fact]
    public async Task Offline_stays_in_its_mesh()
    {
        var dupA = await JoinAsync("dup", mesh: MeshA);
        var a = await JoinAsync(mesh: MeshA);
        var dupB = await JoinAsync("dup", mesh: MeshB);
        var b = await JoinAsync(mesh: MeshB);

        await dupB.CloseAsync();
        await b.WaitForAsync(f => Frame.IsOfflineOf(f, "dup"));
        await WaitForConnectionCountAsync(1, MeshB);

        await dupA.SyncAsync();
        await a.SyncAsync();
        Assert.DoesNotContain(a.Received, Frame.IsOffline);
        Assert.DoesNotContain(dupA.Received, Frame.IsOffline);
        await a.SendAsync(new { type = "direct", to = "dup", data = new { still = "online in a" } });
        await dupA.WaitForAsync(f => Frame.DataStr(f, "still") == "online in a");
        Assert.Contains("dup", PeersOf(await InvocationsAsync(MeshA)));
    }
}

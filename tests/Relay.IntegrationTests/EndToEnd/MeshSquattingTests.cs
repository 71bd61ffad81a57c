using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Connections;
using Relay.Gateway.Routing;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// Issue 17, item 3: sockets to distinct <c>?mesh=</c> names that never send a frame filled <c>MaxMeshes</c> for good,
/// and a legitimate client got 503 for any new mesh. Now a socket that registers no peer within
/// <c>RegistrationTimeout</c> is closed (1008), and one address holds at most <c>MaxMeshesPerAddress</c> meshes.
/// </summary>
public sealed class MeshSquattingTests : EndToEndTest
{
    // The whole of 127.0.0.0/8 is loopback: clients bound to this one are, for the relay, another address.
    private static readonly IPAddress Squatter = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Sockets_that_never_register_are_closed_1008_at_the_deadline_and_a_legitimate_client_then_gets_in()
    {
        await StartRelayAsync("Relay:RegistrationTimeout=00:00:01", "Relay:MaxMeshes=4");
        var member = await JoinAsync();

        // The squat: every other place of the mesh table, from sockets that never send a frame.
        var squat = new List<TestPeer>();
        for (var i = 0; i < 3; i++) squat.Add(await ConnectToAsync(MeshUri($"{Mesh}-squat-{i}"), from: Squatter));
        var legitimate = $"{Mesh}-legit";
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RefusedUpgrade.AttemptAsync(MeshUri(legitimate))).Status);

        foreach (var socket in squat)
        {
            var (status, reason) = await socket.ClosedAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.Equal(ConnectionSweeper.RegistrationTimeoutReason, reason);
        }
        await WaitForAsync(() => Meshes.Snapshot().Length == 1, "the squatted meshes dropped with their sockets");

        var a = await JoinAsync(mesh: legitimate);
        var b = await JoinAsync(mesh: legitimate);
        await a.MarkAsync(b);
        // A connection that registered is never closed for the deadline, however long ago it opened.
        Assert.Equal(WebSocketState.Open, member.State);
        await member.SyncAsync();
    }

    [Fact]
    public async Task A_presence_the_relay_refused_gives_the_socket_the_whole_timeout_again()
    {
        await StartRelayAsync("Relay:RegistrationTimeout=00:00:02", "Relay:MaxPeersPerMesh=1");
        var member = await JoinAsync();
        var waiting = await ConnectAsync();
        var opened = Stopwatch.StartNew();
        // A real client re-sends its presence every 10 s; here, every half second for longer than the timeout.
        while (opened.Elapsed < TimeSpan.FromSeconds(3))
        {
            await waiting.SendAsync(new { type = "presence", from = waiting.Id, data = new { } });
            Assert.Equal("mesh_full", Frame.DataStr(await waiting.WaitForAsync(Frame.IsRelayError), "code"));
            await Task.Delay(500);
        }
        Assert.Equal(WebSocketState.Open, waiting.State);

        // Once there is room, its next presence registers it (the relay handles the close asynchronously: bounded poll).
        await member.CloseAsync();
        var deadline = Stopwatch.StartNew();
        while (await waiting.RegisterAsAsync(waiting.Id) is { } error)
        {
            Assert.Equal("mesh_full", Frame.ErrorCode(error));
            Assert.True(deadline.Elapsed < TestPeer.DefaultTimeout, "the mesh never had room again");
            await Task.Delay(500); // within the error rate limit, so that no refusal goes unsaid
        }
    }

    [Fact]
    public async Task One_address_is_bounded_in_meshes_and_another_address_still_gets_a_new_one()
    {
        await StartRelayAsync("Relay:MaxMeshesPerAddress=3");
        var held = new List<TestPeer>();
        for (var i = 0; i < 3; i++) held.Add(await ConnectToAsync(MeshUri($"{Mesh}-squat-{i}"), from: Squatter));

        var refused = await RefusedUpgrade.AttemptAsync(MeshUri($"{Mesh}-squat-3"), Squatter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(3, Quota.MeshesOf(Squatter));

        // More sockets to a mesh the address is in are no new mesh; another address gets a new mesh.
        var again = await ConnectToAsync(MeshUri($"{Mesh}-squat-0"), from: Squatter);
        await again.RegisterAsync();
        var a = await JoinAsync(mesh: $"{Mesh}-legit");
        var b = await JoinAsync(mesh: $"{Mesh}-legit");
        await a.MarkAsync(b);

        // A closed socket gives its mesh back.
        await held[2].CloseAsync();
        await WaitForAsync(() => Quota.MeshesOf(Squatter) == 2, "the closed socket's mesh given back");
        var next = await ConnectToAsync(MeshUri($"{Mesh}-squat-3"), from: Squatter);
        await next.RegisterAsync();
    }

    private MeshRegistry Meshes => Relay.Services.GetRequiredService<MeshRegistry>();

    private MeshQuota Quota => Relay.Services.GetRequiredService<MeshQuota>();

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TestPeer.DefaultTimeout) throw new TimeoutException($"not within {TestPeer.DefaultTimeout}: {what}");
            await Task.Delay(20);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Relay.Gateway.Connections;
using Relay.IntegrationTests.Cluster;
using Relay.IntegrationTests.Infrastructure;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue 14: a node at its limits refuses (HTTP 503 with Retry-After), never dies, and never announces a live peer
/// offline. The relay runs as a child process under <c>ulimit -n 1000</c>, so that a few hundred sockets reach what it
/// can hold: first its connection budget (derived from the open-file limit), then the open-file limit itself, with
/// sockets that never finish their request and so are counted by nothing else.
/// </summary>
[Trait("Category", "Cluster")] // a child process: one at a time, after the parallel tests
[Collection(ClusterProcesses.Name)]
public sealed class OpenFileLimitTests
{
    private const int OpenFiles = 1000;
    private const int MeshSize = 10;
    private const string OutOfDescriptors = "out of file descriptors";
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_node_at_the_connection_limit_its_open_file_limit_allows_refuses_with_503_and_its_peers_notice_nothing()
    {
        await using var relay = await LimitedRelayProcess.StartAsync(OpenFiles, "Relay:MaxConnectionsPerAddress=100000", "Relay:MaxMeshesPerAddress=100000", "Relay:MaxMeshes=100000");
        var allowed = ConnectionBudget.AllowedBy(OpenFiles);
        Assert.Contains($"This node holds at most {allowed} WebSockets: its open-file limit ({OpenFiles})", relay.Log, StringComparison.Ordinal);
        var meshes = await JoinMeshesAsync(relay, allowed);

        for (var i = 0; i < 20; i++)
        {
            var refused = await RefusedUpgrade.AttemptAsync(relay.Mesh("late"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
            Assert.Equal("10", refused.RetryAfter);
        }
        await AssertServingAsync(relay, meshes);
        Assert.DoesNotContain(OutOfDescriptors, relay.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_out_of_file_descriptors_refuses_new_connections_with_503_keeps_its_peers_and_recovers()
    {
        // A MaxConnections above what the open-file limit allows is held to it (and said so).
        await using var relay = await LimitedRelayProcess.StartAsync(OpenFiles, "Relay:MaxConnections=100000", "Relay:MaxConnectionsPerAddress=100000");
        Assert.Contains("Relay:MaxConnections is 100000, more than the open-file limit", relay.Log, StringComparison.Ordinal);
        var meshes = await JoinMeshesAsync(relay, 100);

        var idle = new List<Socket>();
        try
        {
            while (!relay.Log.Contains(OutOfDescriptors, StringComparison.Ordinal))
            {
                Assert.True(idle.Count < 2 * OpenFiles, $"{idle.Count} idle sockets did not exhaust the relay's file descriptors:\n{relay.Log}");
                idle.Add(await ConnectStalledAsync(relay.HttpBase.Port, idle.Count));
            }
            for (var i = 0; i < 10; i++)
            {
                var refused = await RefusedUpgrade.AttemptAsync(relay.Mesh("late"));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
                Assert.Equal("10", refused.RetryAfter);
            }
            Assert.StartsWith("HTTP/1.1 503 ", await SlowUpgradeAsync(relay.HttpBase.Port), StringComparison.Ordinal);
            foreach (var mesh in meshes) await mesh[0].MarkAsync(mesh[1..]); // open connections are unaffected
            Assert.False(relay.HasExited, relay.Log);
        }
        finally
        {
            foreach (var socket in idle) socket.Dispose();
        }

        var watch = Stopwatch.StartNew();
        while (!await relay.PingsAsync())
        {
            Assert.True(watch.Elapsed < Recovery, $"/ping did not answer within {Recovery} of the idle sockets closing:\n{relay.Log}");
            await Task.Delay(100);
        }
        await relay.WaitForLogAsync("File descriptors are available again", TestPeer.DefaultTimeout);
        await using var newcomer = await TestPeer.ConnectAsync(relay.Mesh("after"));
        await newcomer.RegisterAsync();
        await AssertServingAsync(relay, meshes);
    }

    /// <summary><paramref name="count"/> registered peers in meshes of <see cref="MeshSize"/>, from 8 client addresses.</summary>
    private static async Task<TestPeer[][]> JoinMeshesAsync(LimitedRelayProcess relay, int count)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var peers = new TestPeer[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                peers[i] = await TestPeer.ConnectAsync(relay.Mesh($"m{i / MeshSize}-{run}"), $"p{i}", startReading: true, from: ClientAddress(i));
                await peers[i].RegisterAsync();
            }
        }));
        return peers.Chunk(MeshSize).ToArray();
    }

    /// <summary>The node answers <c>/ping</c>, every mesh's broadcast reaches all its peers, and no peer was closed or
    /// heard an offline.</summary>
    private static async Task AssertServingAsync(LimitedRelayProcess relay, TestPeer[][] meshes)
    {
        Assert.True(await relay.PingsAsync(), relay.Log);
        foreach (var mesh in meshes) await mesh[0].MarkAsync(mesh[1..]);
        foreach (var peer in meshes.SelectMany(m => m))
        {
            Assert.Equal(System.Net.WebSockets.WebSocketState.Open, peer.State);
            Assert.DoesNotContain(peer.Received, Frame.IsOffline);
        }
    }

    /// <summary>A TCP connection to the relay that sends the first line of a request and never the rest, as a slow-loris
    /// client does. Kestrel holds it for its headers; the fd-limit shedding answers it 503 as soon as it accepts it. The
    /// loop that fills the relay with these sees the shedding start only through the relay's log, a moment late, so some
    /// wait in the listen backlog ahead of the upgrades the test sends next: sockets that sent nothing would hold those
    /// up by the shedding's one-second wait for a request each (16 at a time), longer than a refused upgrade may take.</summary>
    private static async Task<Socket> ConnectStalledAsync(int port, int index)
    {
        var socket = await ConnectIdleAsync(port, index);
        try
        {
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes("GET /ws?mesh=stalled HTTP/1.1\r\n"));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A TCP connection to the relay that sends nothing (yet).</summary>
    private static async Task<Socket> ConnectIdleAsync(int port, int index)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(ClientAddress(index), 0));
            using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An upgrade request sent a while after its connection was accepted, as a client on a loaded machine sends
    /// it; returns the answer's status line.</summary>
    private static async Task<string> SlowUpgradeAsync(int port)
    {
        using var socket = await ConnectIdleAsync(port, 0);
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // the client's delay is the scenario, not a synchronisation
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(UpgradeRequest.Head("/ws?mesh=late", host: "127.0.0.1")));
        var answer = new byte[256];
        using var timeout = new CancellationTokenSource(TestPeer.DefaultTimeout);
        var read = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
        return System.Text.Encoding.ASCII.GetString(answer, 0, read);
    }

    private static IPAddress ClientAddress(int index) => new([127, 0, 0, (byte)(2 + index % 8)]);
}

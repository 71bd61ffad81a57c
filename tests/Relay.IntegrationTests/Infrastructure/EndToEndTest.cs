using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Relay.Gateway.Connections;
using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A relay with default settings shared by the tests of one class; every test uses its own mesh.</summary>
public class SharedRelay : IAsyncLifetime
{
    public RelayServer Relay { get; private set; } = null!;

    protected virtual string[] Settings => [];

    public async Task InitializeAsync() => Relay = await RelayServer.StartAsync(Settings);

    public async Task DisposeAsync() => await Relay.DisposeAsync();
}

/// <summary>Settings under which reaping happens within seconds.</summary>
public static class FastLiveness
{
    public static readonly TimeSpan StaleTimeout = TimeSpan.FromSeconds(2);

    /// <summary>StaleTimeout 2 s, ReapCheckInterval 100 ms, LivenessReportInterval 200 ms.</summary>
    public static readonly string[] Settings =
    [
        "Relay:StaleTimeout=00:00:02",
        "Relay:ReapCheckInterval=00:00:00.100",
        "Relay:LivenessReportInterval=00:00:00.200",
    ];

    /// <summary>How often peers that must stay alive under <see cref="Settings"/> send a keep-alive. Tests use
    /// presence, as the real clients do: it is rebroadcast, so every live peer also keeps reading something.</summary>
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromMilliseconds(400);

    public static string[] With(params string[] more) => [.. Settings, .. more];
}

/// <summary>
/// Base of the end-to-end tests: a relay (shared per class, or started by the test), a fresh mesh per test,
/// and peers that are disposed after the test.
/// </summary>
public abstract class EndToEndTest : IAsyncLifetime
{
    private readonly List<TestPeer> _peers = [];
    private readonly List<RelayServer> _ownRelays = [];
    private readonly Dictionary<string, TestPeer> _chatters = [];
    private RelayServer? _relay;

    protected EndToEndTest(RelayServer? shared = null) => _relay = shared;

    protected RelayServer Relay => _relay ?? throw new InvalidOperationException("Start a relay first (StartRelayAsync).");

    /// <summary>This test's mesh.</summary>
    protected string Mesh { get; } = "m-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Starts a relay with <paramref name="settings"/> for this test (disposed after it).</summary>
    protected async Task<RelayServer> StartRelayAsync(params string[] settings)
    {
        var relay = await RelayServer.StartAsync(settings);
        _ownRelays.Add(relay);
        _relay = relay;
        return relay;
    }

    /// <summary>Stops and disposes the relay this test started (a restart or shutdown under test).</summary>
    /// <summary>
    /// Starts a relay and begins stopping it with a drain that lasts: a client that never reads cannot complete the
    /// close handshake. Returns once draining has begun (another client got its close), with an HTTP client for the
    /// relay and the stop still running.
    /// </summary>
    protected async Task<(HttpClient Http, Task Stopping)> BeginLastingDrainAsync()
    {
        var relay = await StartRelayAsync();
        var watcher = await JoinAsync();
        var stuck = await ConnectToAsync(MeshUri(), TestPeer.NewId("stuck"), startReading: false);
        await stuck.PresenceAsync();
        await watcher.WaitForAsync(f => Frame.IsPresenceOf(f, stuck.Id));

        var http = new HttpClient { BaseAddress = relay.HttpBase, Timeout = TimeSpan.FromSeconds(5) };
        var stopping = StopRelayAsync();
        await watcher.WaitForCloseAsync(TestPeer.DefaultTimeout);
        return (http, stopping);
    }

    protected async Task StopRelayAsync()
    {
        var relay = Relay;
        if (!_ownRelays.Remove(relay)) throw new InvalidOperationException("Only a relay started by the test can be stopped.");
        await relay.DisposeAsync();
    }

    protected Uri MeshUri(string? mesh = null, string path = "/ws", string extraQuery = "") =>
        Relay.WebSocketUri(path, $"?mesh={mesh ?? Mesh}{extraQuery}");

    /// <summary>Connects a peer to this test's mesh (or <paramref name="mesh"/>) without registering it.</summary>
    protected Task<TestPeer> ConnectAsync(string? peerId = null, string? mesh = null, bool startReading = true) =>
        ConnectToAsync(MeshUri(mesh), peerId ?? TestPeer.NewId("peer"), startReading);

    protected async Task<TestPeer> ConnectToAsync(Uri uri, string? peerId = null, bool startReading = true,
        Action<ClientWebSocketOptions>? configure = null, System.Net.IPAddress? from = null)
    {
        var peer = await TestPeer.ConnectAsync(uri, peerId ?? TestPeer.NewId("peer"), startReading, configure, from);
        lock (_peers) _peers.Add(peer);
        return peer;
    }

    /// <summary>Connects and registers a peer (presence, then a round trip proving it was processed).</summary>
    protected async Task<TestPeer> JoinAsync(string? peerId = null, object? data = null, string? mesh = null)
    {
        var peer = await ConnectAsync(peerId, mesh);
        await peer.RegisterAsync(data);
        return peer;
    }

    /// <summary>
    /// Proves that at least the stale timeout passed in the relay's own time since now, by a positive event:
    /// a fresh silent witness peer registers and <paramref name="observer"/> waits for the witness's offline.
    /// Anything the relay was going to send meanwhile (a duplicate offline, a late announcement) has been sent.
    /// Only meaningful under <see cref="FastLiveness"/> settings, with <paramref name="observer"/> kept alive.
    /// </summary>
    /// <remarks>A "chatter" peer (one per mesh and test) keeps re-sending its presence meanwhile, so the observer
    /// always has something to read: a reader left idle for a whole stale timeout is a case of its own
    /// (ReapingTests.Reaping_silent_peers_does_not_close_idle_listeners), not something every test should hinge on.</remarks>
    protected async Task QuietPeriodAsync(TestPeer observer, string? mesh = null)
    {
        await EnsureChatterAsync(mesh);
        var witness = await JoinAsync(TestPeer.NewId("witness"), mesh: mesh);
        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, witness.Id), TimeSpan.FromSeconds(15), $"offline of witness {witness.Id}");
    }

    /// <summary>Starts (once per mesh) a peer that re-sends its presence every <see cref="FastLiveness.KeepAliveInterval"/>,
    /// so that every other live peer keeps reading something (see <see cref="QuietPeriodAsync"/>).</summary>
    protected async Task<TestPeer> EnsureChatterAsync(string? mesh = null)
    {
        var key = mesh ?? Mesh;
        if (!_chatters.TryGetValue(key, out var chatter))
        {
            chatter = await JoinAsync(TestPeer.NewId("chatter"), new { role = "chatter" }, mesh);
            chatter.StartKeepAlive(FastLiveness.KeepAliveInterval, usePresence: true);
            _chatters[key] = chatter;
        }
        return chatter;
    }

    /// <summary>
    /// Proves <paramref name="target"/> did not get a frame <paramref name="sender"/> sent earlier: the sender's
    /// marker reaching <paramref name="witness"/> shows the relay finished handling the earlier frame (it handles
    /// one connection's frames in order), and a round trip of the target through the relay flushes whatever was
    /// queued for the target by then.
    /// </summary>
    protected static async Task FlushAsync(TestPeer sender, TestPeer witness, params TestPeer[] targets)
    {
        await sender.MarkAsync(witness);
        foreach (var target in targets) await target.SyncAsync();
    }

    /// <summary>The relay's connections of this test's mesh (internal state).</summary>
    private protected IReadOnlyList<RelayConnection> ConnectionsOfMesh(string? mesh = null)
    {
        var name = mesh ?? Mesh;
        return [.. Relay.Services.GetRequiredService<ConnectionRegistry>().All.Where(c => c.MeshName == name)];
    }

    /// <summary>Waits (bounded) until the relay holds <paramref name="count"/> connections in the mesh: a closed
    /// connection leaves the registry only after the relay finished handling its departure.</summary>
    protected async Task WaitForConnectionCountAsync(int count, string? mesh = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestPeer.DefaultTimeout;
        var watch = Stopwatch.StartNew();
        while (ConnectionsOfMesh(mesh).Count != count)
        {
            if (watch.Elapsed > limit)
            {
                throw new TimeoutException($"mesh {mesh ?? Mesh} still has {ConnectionsOfMesh(mesh).Count} connections, expected {count}");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>POST /invocations for a mesh (null: no mesh parameter).</summary>
    protected async Task<JsonElement> InvocationsAsync(string? mesh)
    {
        var path = mesh is null ? "invocations" : $"invocations?mesh={Uri.EscapeDataString(mesh)}";
        using var response = await Relay.Http.PostAsync(new Uri(path, UriKind.Relative), null);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    protected static string[] PeersOf(JsonElement invocations) =>
        [.. invocations.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!)];

    /// <summary>Unix seconds now.</summary>
    protected static double UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Asserts a relay-made time: a JSON number of unix seconds within [before - 1, after + 1].</summary>
    protected static void AssertUnixSeconds(JsonElement timestamp, double before, double after)
    {
        Assert.Equal(JsonValueKind.Number, timestamp.ValueKind);
        var value = timestamp.GetDouble();
        Assert.InRange(value, before - 1, after + 1);
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        TestPeer[] peers;
        lock (_peers) peers = [.. _peers];
        await Task.WhenAll(peers.Select(p => p.DisposeAsync().AsTask()));
        foreach (var relay in _ownRelays) await relay.DisposeAsync();
    }
}

using System.Net;
using System.Net.WebSockets;
using Relay.IntegrationTests.Cluster;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue 14: a node that runs behind its own work refuses new upgrades with HTTP 503 and <c>Retry-After</c>
/// (<c>Relay:ShedWhenLaggingAbove</c>), through the direct handshake and Kestrel's endpoint alike, while its open
/// connections keep relaying, and admits again once it has caught up. The relay is a child process, and it lags for
/// real: it is frozen (SIGSTOP) for a second at a time and let run (SIGCONT) for a tenth of one in between, as a host
/// starved of CPU runs it; every frozen second is lag far above the threshold.
/// </summary>
[Trait("Category", "Cluster")] // a child process: one at a time, after the parallel tests
[Collection(ClusterProcesses.Name)]
public sealed class LagSheddingTests
{
    private const string Started = "This node runs behind";
    private const string CaughtUp = "This node has caught up";
    private static readonly TimeSpan Frozen = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Running = TimeSpan.FromMilliseconds(100);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_node_that_runs_behind_refuses_new_upgrades_with_503_keeps_its_sockets_relaying_and_admits_again_once_caught_up(bool directHandshake)
    {
        await using var relay = await LimitedRelayProcess.StartAsync(4096, "Relay:ShedWhenLaggingAbove=00:00:00.300", $"Relay:DirectHandshake={directHandshake}");
        var mesh = relay.Mesh(TestPeer.NewId("lag"));
        await using var a = await TestPeer.ConnectAsync(mesh, TestPeer.NewId("a"));
        await a.RegisterAsync();
        await using var b = await TestPeer.ConnectAsync(mesh, TestPeer.NewId("b"));
        await b.RegisterAsync();
        await a.MarkAsync(b);

        using (var stop = new CancellationTokenSource())
        {
            var frozenOnce = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var lagging = LagAsync(relay, frozenOnce, stop.Token);
            try
            {
                await frozenOnce.Task.WaitAsync(TestPeer.DefaultTimeout);

                // Read after a frozen second: refused, whether the request waited through it or came in between.
                for (var i = 0; i < 3; i++) await AssertRefusedAsync(relay, mesh);
                await a.MarkAsync(b); // open connections relay all along
                await b.DirectMarkAsync(a);
                using (var ready = await relay.Http.GetAsync(new Uri("healthz/ready", UriKind.Relative)))
                {
                    Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // still ready: it serves its sockets
                    Assert.Equal("Degraded", await ready.Content.ReadAsStringAsync());
                }
                await AssertRefusedAsync(relay, mesh); // and still behind
            }
            finally
            {
                await stop.CancelAsync();
                await lagging;
            }
        }

        Assert.Contains(Started, relay.Log, StringComparison.Ordinal);
        await relay.WaitForLogAsync(CaughtUp, TestPeer.DefaultTimeout);
        await using var newcomer = await TestPeer.ConnectAsync(mesh, TestPeer.NewId("c"));
        await newcomer.RegisterAsync();
        await a.WaitForAsync(f => Frame.IsPresenceOf(f, newcomer.Id));
        await a.MarkAsync(b, newcomer);
        Assert.Equal("Healthy", await relay.Http.GetStringAsync(new Uri("healthz/ready", UriKind.Relative)));
        var metrics = await relay.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        var refusedLagging = metrics.Split('\n').Where(line => line.Contains("reason=\"lagging\"", StringComparison.Ordinal));
        Assert.True(PrometheusText.Sum(string.Join('\n', refusedLagging), "relay_connections_refused_total") >= 4, metrics);
        foreach (var peer in (TestPeer[])[a, b])
        {
            Assert.Equal(WebSocketState.Open, peer.State);
            Assert.DoesNotContain(peer.Received, Frame.IsOffline);
        }
    }

    /// <summary>Freezes and resumes the relay in turn until <paramref name="stop"/>, and leaves it running.</summary>
    private static async Task LagAsync(LimitedRelayProcess relay, TaskCompletionSource frozenOnce, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await relay.PauseAsync();
                try
                {
                    // How long it stays frozen and running is the scenario, not a wait for the relay.
                    await Task.Delay(Frozen, CancellationToken.None);
                }
                finally
                {
                    await relay.ResumeAsync();
                }
                frozenOnce.TrySetResult();
                await Task.Delay(Running, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // done lagging
        }
        catch (Exception e)
        {
            frozenOnce.TrySetException(e);
            throw;
        }
    }

    private static async Task AssertRefusedAsync(LimitedRelayProcess relay, Uri mesh)
    {
        var refused = await RefusedUpgrade.AttemptAsync(mesh);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("10", refused.RetryAfter);
    }
}

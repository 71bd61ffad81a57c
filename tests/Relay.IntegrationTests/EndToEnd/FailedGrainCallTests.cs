using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

/// <summary>
/// The single process keeps no leases (<see cref="LivenessOptions.LeaseBackstop"/>), so a peer grain call that fails
/// must not leave the grain holding a connection this node no longer has: it would keep the peer "online" in the
/// cluster's truth for good (and refuse its id to any other principal). The node tells the grain again.
/// </summary>
public sealed class FailedGrainCallTests : IAsyncLifetime
{
    private readonly FailingCalls _failing = new();
    private readonly string _mesh = "m-" + Guid.NewGuid().ToString("N")[..12];
    private RelayServer _relay = null!;

    public async Task InitializeAsync() =>
        _relay = await RelayServer.StartWithArgumentsAsync(["--Relay:DrainWindow=00:00:00"], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton<IIncomingGrainCallFilter>(_failing);
        });

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public void The_single_process_keeps_no_leases() =>
        Assert.False(_relay.Services.GetRequiredService<IOptions<LivenessOptions>>().Value.LeaseBackstop);

    [Fact]
    public async Task A_leave_whose_grain_call_failed_is_told_to_the_grain_again()
    {
        await using var observer = await TestPeer.ConnectAsync(Uri(), TestPeer.NewId("observer"));
        await observer.RegisterAsync();
        var leaver = await TestPeer.ConnectAsync(Uri(), TestPeer.NewId("leaver"));
        await leaver.RegisterAsync();
        var grain = _relay.Services.GetRequiredService<IGrainFactory>().GetGrain<IPeerGrain>(GrainKeys.Peer(_mesh, leaver.Id));
        Assert.Single(await grain.GetConnections());

        _failing.FailNext(GrainKeys.Peer(_mesh, leaver.Id), nameof(IPeerGrain.Disconnect));
        await leaver.CloseAsync();

        // This node's own view decides at once: offline goes out although the grain did not answer.
        await observer.WaitForAsync(f => Frame.IsOfflineOf(f, leaver.Id));
        await _failing.Failed.WaitAsync(TestPeer.DefaultTimeout);

        // Then the grain is told again (about a second later) and lets the connection go.
        await WaitUntilAsync(async () => (await grain.GetConnections()).Length == 0, TimeSpan.FromSeconds(15));
        await leaver.DisposeAsync();
    }

    [Fact]
    public async Task A_registration_whose_grain_call_failed_is_undone_when_the_connection_goes()
    {
        var peerId = TestPeer.NewId("unlucky");
        var grain = _relay.Services.GetRequiredService<IGrainFactory>().GetGrain<IPeerGrain>(GrainKeys.Peer(_mesh, peerId));
        var unlucky = await TestPeer.ConnectAsync(Uri(), peerId);

        // The call fails on its way back, after the grain added the connection (as a response timeout would).
        _failing.FailNext(GrainKeys.Peer(_mesh, peerId), nameof(IPeerGrain.Connect), afterTheCall: true);
        await unlucky.PresenceAsync();
        var error = await unlucky.WaitForAsync(f => Frame.Type(f) == "error");
        Assert.Equal("unavailable", error.GetProperty("data").GetProperty("code").GetString());
        Assert.Single(await grain.GetConnections());

        await unlucky.CloseAsync();
        await WaitUntilAsync(async () => (await grain.GetConnections()).Length == 0, TimeSpan.FromSeconds(15));
        await unlucky.DisposeAsync();
    }

    private Uri Uri() => _relay.WebSocketUri(query: $"?mesh={_mesh}");

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!await condition())
        {
            await Task.Delay(100, deadline.Token); // polling a grain's state: there is no event to wait on
        }
    }

    /// <summary>Fails the next call of one method on one grain, before or after the grain ran it.</summary>
    private sealed class FailingCalls : IIncomingGrainCallFilter
    {
        private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private (string Key, string Method, bool After)? _next;

        public Task Failed => _failed.Task;

        public void FailNext(string grainKey, string method, bool afterTheCall = false)
        {
            lock (_failed) _next = (grainKey, method, afterTheCall);
        }

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            (string Key, string Method, bool After)? armed = null;
            lock (_failed)
            {
                if (_next is { } next && context.MethodName == next.Method && context.TargetId.Key.ToString() == next.Key)
                {
                    armed = next;
                    _next = null;
                }
            }
            if (armed is { After: false })
            {
                _failed.TrySetResult();
                throw new TimeoutException("failed by the test");
            }
            await context.Invoke();
            if (armed is { After: true })
            {
                _failed.TrySetResult();
                throw new TimeoutException("failed by the test");
            }
        }
    }
}

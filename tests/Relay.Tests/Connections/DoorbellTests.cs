using Relay.Gateway.Connections;
using Xunit;

namespace Relay.Tests.Connections;

/// <summary>
/// The writer's doorbell: a ring before the wait is kept (once, however many), a ring during the wait wakes it,
/// completion ends waits once no ring is pending, and the token cancels a wait. Waits are bounded.
/// </summary>
public sealed class DoorbellTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Rings_before_the_wait_count_once()
    {
        var bell = new Doorbell();
        bell.Ring();
        bell.Ring();
        Assert.True(await bell.WaitAsync(CancellationToken.None));
        var next = bell.WaitAsync(CancellationToken.None).AsTask();
        Assert.False(next.IsCompleted);
        bell.Ring();
        Assert.True(await next.WaitAsync(Bound));
    }

    [Fact]
    public async Task A_ring_wakes_a_waiting_writer_from_another_thread_every_time()
    {
        var bell = new Doorbell();
        for (var i = 0; i < 1000; i++)
        {
            var wait = bell.WaitAsync(CancellationToken.None).AsTask();
            _ = Task.Run(bell.Ring);
            Assert.True(await wait.WaitAsync(Bound));
        }
    }

    [Fact]
    public async Task Completion_ends_a_waiting_wait_and_later_ones_but_a_pending_ring_is_taken_first()
    {
        var bell = new Doorbell();
        var waiting = bell.WaitAsync(CancellationToken.None).AsTask();
        bell.Complete();
        Assert.False(await waiting.WaitAsync(Bound));
        Assert.False(await bell.WaitAsync(CancellationToken.None));

        var rung = new Doorbell();
        rung.Ring();
        rung.Complete();
        Assert.True(await rung.WaitAsync(CancellationToken.None));
        Assert.False(await rung.WaitAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_token_cancels_a_wait_and_the_bell_still_works_after()
    {
        var bell = new Doorbell();
        using var cancel = new CancellationTokenSource();
        var waiting = bell.WaitAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Bound));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => bell.WaitAsync(cancel.Token).AsTask());

        var next = bell.WaitAsync(CancellationToken.None).AsTask();
        bell.Ring();
        Assert.True(await next.WaitAsync(Bound));
    }
}

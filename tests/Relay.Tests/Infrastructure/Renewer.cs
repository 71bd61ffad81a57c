using Relay.Grains.Contracts;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// Plays a gateway's liveness reporter for some connections: calls <see cref="IPeerGrain.Renew"/> with the
/// current time every <c>period</c> until stopped, and remembers the last frame time the grain acknowledged.
/// Overlapping: each tick's Renew goes out without waiting for the previous one to be answered, so a call lost with
/// a killed silo does not hold up the next reports (as the gateway's reporter does).
/// </summary>
public sealed class Renewer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _lastFrameMs;
    private int _count;
    private int _pending;
    private readonly bool _overlapping;

    private Renewer(IPeerGrain grain, string gatewayId, long[] connectionIds, TimeSpan period, bool overlapping)
    {
        _overlapping = overlapping;
        _loop = RunAsync(grain, gatewayId, connectionIds, period);
    }

    public static Renewer Start(IPeerGrain grain, string gatewayId, long[] connectionIds, TimeSpan period, bool overlapping = false) =>
        new(grain, gatewayId, connectionIds, period, overlapping);

    /// <summary>Renews sent and not answered yet.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>The <c>lastFrame</c> of the latest completed Renew (unix seconds).</summary>
    public double LastFrame => Interlocked.Read(ref _lastFrameMs) / 1000.0;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The latest failed Renew, if any.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Stops renewing (an in-flight Renew completes first) and returns the last acknowledged frame time.</summary>
    public async Task<double> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return LastFrame;
    }

    private async Task RunAsync(IPeerGrain grain, string gatewayId, long[] connectionIds, TimeSpan period)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                var renew = RenewOnceAsync(grain, gatewayId, connectionIds);
                if (!_overlapping) await renew;
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // stopped
        }
    }

    private async Task RenewOnceAsync(IPeerGrain grain, string gatewayId, long[] connectionIds)
    {
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Interlocked.Increment(ref _pending);
        try
        {
            await grain.Renew(gatewayId, connectionIds, nowMs / 1000.0);
            // Overlapping: a call answered after the stop does not count as the last renewal.
            if (_overlapping && _stop.IsCancellationRequested) return;
            long seen;
            while ((seen = Interlocked.Read(ref _lastFrameMs)) < nowMs && Interlocked.CompareExchange(ref _lastFrameMs, nowMs, seen) != seen)
            {
            }
            Interlocked.Increment(ref _count);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Like a gateway's reporter: note it and retry at the next tick; the test asserts on the grain.
            LastError = ex;
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}

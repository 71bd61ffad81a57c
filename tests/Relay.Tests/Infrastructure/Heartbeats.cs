using Relay.Grains.Contracts;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// Plays a live gateway's heartbeats (<see cref="IGatewayGrain.Heartbeat"/>), four times per report interval rather
/// than once: at the fixture's timings the gateway silence is 600 ms, and a busy test host can hold one heartbeat back
/// that long; the grain then rightly counts the gateway gone. <see cref="LongestGap"/> says whether that happened.
/// </summary>
public sealed class Heartbeats : IAsyncDisposable
{
    private static readonly TimeSpan Period = GrainClusterFixture.LivenessReportInterval / 4;

    private readonly CancellationTokenSource _stop = new();
    private readonly Task<double> _loop;
    private long _longestGapMs;

    private Heartbeats(IGatewayGrain gateway) => _loop = RunAsync(gateway);

    public static Heartbeats Start(IGatewayGrain gateway) => new(gateway);

    /// <summary>The longest time between two answered heartbeats so far.</summary>
    public TimeSpan LongestGap => TimeSpan.FromMilliseconds(Interlocked.Read(ref _longestGapMs));

    /// <summary>Stops, and returns when the last heartbeat was answered (unix seconds).</summary>
    public async Task<double> StopAsync()
    {
        await _stop.CancelAsync();
        return await _loop;
    }

    private async Task<double> RunAsync(IGatewayGrain gateway)
    {
        await Task.Yield();
        var last = 0.0;
        using var timer = new PeriodicTimer(Period);
        try
        {
            do
            {
                await gateway.Heartbeat();
                var now = Unix.Now();
                if (last > 0)
                {
                    var gapMs = (long)((now - last) * 1000);
                    if (gapMs > Interlocked.Read(ref _longestGapMs)) Interlocked.Exchange(ref _longestGapMs, gapMs);
                }
                last = now;
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // stopped
        }
        return last;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}

using Relay.Grains.Contracts;

namespace Relay.Tests.Infrastructure;

/// <summary>Plays a live gateway's heartbeats: <see cref="IGatewayGrain.Heartbeat"/> once per report interval.</summary>
public sealed class Heartbeats : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<double> _loop;

    private Heartbeats(IGatewayGrain gateway) => _loop = RunAsync(gateway);

    public static Heartbeats Start(IGatewayGrain gateway) => new(gateway);

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
        using var timer = new PeriodicTimer(GrainClusterFixture.LivenessReportInterval);
        try
        {
            do
            {
                await gateway.Heartbeat();
                last = Unix.Now();
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

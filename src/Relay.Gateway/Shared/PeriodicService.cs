using Microsoft.Extensions.Hosting;

namespace Relay.Gateway.Shared;

/// <summary>A hosted service that does one piece of work per period until the host stops (the gateway's sweeps,
/// liveness reports and roster restatements). A tick runs to its end before the next one is awaited.</summary>
internal abstract class PeriodicService(TimeSpan period, TimeProvider time) : BackgroundService
{
    protected TimeProvider Time { get; } = time;

    protected abstract Task TickAsync();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(period, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await TickAsync();
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
    }
}

using Relay.Gateway.Shared;

namespace Relay.Gateway.Dashboard;

/// <summary>Takes one <see cref="MessageRates"/> point per second while the node runs, so a dashboard opened now
/// shows the minutes before it.</summary>
internal sealed class RateSampler(MessageRates rates, TimeProvider time) : PeriodicService(TimeSpan.FromSeconds(1), time)
{
    protected override Task TickAsync()
    {
        rates.Sample(Time.GetUtcNow().ToUnixTimeSeconds());
        return Task.CompletedTask;
    }
}

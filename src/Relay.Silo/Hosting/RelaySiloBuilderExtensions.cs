using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using Relay.Grains;
using Relay.Grains.Contracts;

namespace Relay.Silo.Hosting;

public static class RelaySiloBuilderExtensions
{
    /// <summary>
    /// What the relay's grains need on any silo: their options, grain storage, the gateway streams and
    /// reminders. In-memory providers: the relay keeps no state across restarts (protocol.md).
    /// </summary>
    public static ISiloBuilder AddRelayGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.Services.AddRelayLiveness(configuration);
        silo.AddMemoryGrainStorage(GatewayStreams.Storage);
        silo.AddMemoryGrainStorage("PubSubStore");
        silo.AddMemoryStreams(GatewayStreams.Provider, streams => streams.ConfigurePullingAgent(agent =>
            agent.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(10))));
        silo.UseInMemoryReminderService();

        // The reminder is only a backstop for lost activations; let operators (and tests) choose a period
        // below Orleans' one-minute floor when they really want one.
        var reminderPeriod = configuration.GetSection(LivenessOptions.SectionName).GetValue<TimeSpan?>(nameof(LivenessOptions.ReminderPeriod));
        if (reminderPeriod is { } period && period < TimeSpan.FromMinutes(1))
        {
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = period);
        }
        return silo;
    }

    /// <summary>The single-process cluster: one silo on loopback, its own primary.</summary>
    public static ISiloBuilder UseRelayLocalCluster(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.GetSection(RelayClusterOptions.SectionName).Get<RelayClusterOptions>() ?? new RelayClusterOptions();
        var primary = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, options.PrimarySiloPort == 0 ? options.SiloPort : options.PrimarySiloPort);
        silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primary, options.ServiceId, options.ClusterId);
        return silo;
    }
}

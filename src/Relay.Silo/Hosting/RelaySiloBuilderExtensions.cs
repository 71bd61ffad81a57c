using System.Net;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Runtime.Providers;
using Relay.Gateway.Hosting;
using Relay.Grains;
using Relay.Grains.Contracts;
using StackExchange.Redis;

namespace Relay.Silo.Hosting;

public static class RelaySiloBuilderExtensions
{
    /// <summary>Grain storage that Orleans' stream pub-sub uses for explicit subscriptions (gateways subscribe
    /// to their own streams).</summary>
    public const string PubSubStore = "PubSubStore";

    private static readonly StreamRetryBackoff QueueRetry = new(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1));

    /// <summary>
    /// What the relay's grains need on any silo: their options, grain storage, the gateway streams and reminders.
    /// Without <c>Cluster:Redis</c> every provider is in memory (the relay keeps no state across restarts); with it,
    /// reminders and grain state ("relay" and "PubSubStore": peer state, stream subscriptions) live in Redis and
    /// survive the silo that held them. The gateway streams stay in memory by design.
    /// </summary>
    public static ISiloBuilder AddRelayGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var cluster = RelayClusterConfiguration.Read(configuration);
        silo.Services.AddRelayLiveness(configuration);
        if (cluster.UsesRedis)
        {
            // Cleared state is deleted, not kept as an empty record: peer ids are the clients' to choose, so records
            // of peers that left would grow Redis for ever.
            void Storage(RedisStorageOptions o)
            {
                o.ConfigurationOptions = RedisConfiguration(cluster);
                o.DeleteStateOnClear = true;
            }
            silo.AddRedisGrainStorage(GatewayStreams.Storage, Storage);
            silo.AddRedisGrainStorage(PubSubStore, Storage);
            silo.UseRedisReminderService(o => o.ConfigurationOptions = RedisConfiguration(cluster));
        }
        else
        {
            silo.AddMemoryGrainStorage(GatewayStreams.Storage);
            silo.AddMemoryGrainStorage(PubSubStore);
            silo.UseInMemoryReminderService();
        }
        silo.AddMemoryStreams(GatewayStreams.Provider, streams =>
        {
            streams.ConfigurePullingAgent(agent => agent.Configure(o =>
            {
                // Orleans' default poll period (100 ms): the streams carry only grains' decisions (reaps, gateways
                // joining and leaving meshes), not frames, so their latency is not on any frame's path; a shorter
                // period woke every silo's 8 pulling agents 800 times a second, busy or idle.
                o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(100);
                // A gateway that died keeps its subscription; give up on its events quickly rather than holding
                // them for the default minute.
                o.MaxEventDeliveryTime = TimeSpan.FromSeconds(10);
            }));
            streams.ConfigureBackoffProvider((_, _) => (IQueueReaderBackoffProvider)QueueRetry);
            streams.ConfigureBackoffProvider((_, _) => (IMessageDeliveryBackoffProvider)QueueRetry);
            // Gateway events are delivered once and never replayed, yet the queue cache keeps delivered events for
            // Orleans' default 5 to 30 minutes: at steady cluster traffic the silo holding the queues grew by about
            // 20 MB a minute (bench/soak.sh). Keep them only a little longer than a delivery may take.
            streams.ConfigureCacheEviction(eviction => eviction.Configure(o =>
            {
                o.DataMinTimeInCache = TimeSpan.FromSeconds(30);
                o.DataMaxAgeInCache = TimeSpan.FromMinutes(1);
            }));
        });

        // Gateways are Orleans clients holding this node's streams: one that vanished (crash, network) is dropped
        // after this long, so messages to it fail at once instead of each waiting for the 30 s response timeout,
        // which stalls a stream queue shared with live gateways. A live gateway reconnects well within it.
        silo.Configure<SiloMessagingOptions>(o => o.ClientDropTimeout = TimeSpan.FromSeconds(5));

        // The reminder is only a backstop for lost activations; let operators (and tests) choose a period
        // below Orleans' one-minute floor when they really want one.
        var reminderPeriod = configuration.GetSection(LivenessOptions.SectionName).GetValue<TimeSpan?>(nameof(LivenessOptions.ReminderPeriod));
        if (reminderPeriod is { } period && period < TimeSpan.FromMinutes(1))
        {
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = period);
        }
        return silo;
    }

    /// <summary>
    /// How the silo finds the others. Without <c>Cluster:Redis</c>: localhost clustering, one silo on loopback that
    /// is its own primary (the single process). With it: Redis membership, the silo advertising
    /// <c>AdvertisedIPAddress</c> (and listening on every interface when that is not a loopback address). Failure
    /// detection keeps Orleans' production defaults unless the <c>Cluster</c> knobs say otherwise.
    /// </summary>
    public static ISiloBuilder UseRelayCluster(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var options = RelayClusterConfiguration.Read(configuration);
        if (options.UsesRedis)
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            var address = RelayClusterConfiguration.ResolveAdvertisedAddress(options);
            silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(address));
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisConfiguration(options));
        }
        else
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
        }

        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);

        if (options.ProbeTimeout is not null || options.NumMissedProbesLimit is not null || options.NumVotesForDeathDeclaration is not null)
        {
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                if (options.ProbeTimeout is { } probeTimeout) o.ProbeTimeout = probeTimeout;
                if (options.NumMissedProbesLimit is { } missed) o.NumMissedProbesLimit = missed;
                if (options.NumVotesForDeathDeclaration is { } votes) o.NumVotesForDeathDeclaration = votes;
            });
        }
        return silo;
    }

    private static ConfigurationOptions RedisConfiguration(RelayClusterOptions options) => ConfigurationOptions.Parse(options.Redis!);
}

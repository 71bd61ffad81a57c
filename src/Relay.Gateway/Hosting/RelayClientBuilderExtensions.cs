using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Relay.Grains.Contracts;
using StackExchange.Redis;

namespace Relay.Gateway.Hosting;

public static partial class RelayClientBuilderExtensions
{
    /// <summary>
    /// The Orleans client of a gateway-only node: Redis clustering when <see cref="RelayClusterOptions.Redis"/> is
    /// set (it finds every silo's gateway port there), else the one silo at <c>127.0.0.1:GatewayPort</c>; the
    /// "relay" memory streams the gateway listens on; and retries at start for up to
    /// <see cref="RelayClusterOptions.ConnectTimeout"/>, since silos may come up after the gateway.
    /// </summary>
    public static IClientBuilder UseRelayCluster(this IClientBuilder client, RelayClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        if (options.UsesRedis)
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(options.Redis!));
        }
        else
        {
            client.UseLocalhostClustering(options.GatewayPort, options.ServiceId, options.ClusterId);
        }
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);
        client.AddMemoryStreams(GatewayStreams.Provider);
        client.Services.AddSingleton(new ConnectRetry(options.ConnectTimeout));
        client.UseConnectionRetryFilter<ConnectRetryFilter>();
        return client;
    }

    internal sealed record ConnectRetry(TimeSpan Timeout);

    /// <summary>Retries the first connection once a second until the timeout, logging each failed attempt.</summary>
    internal sealed partial class ConnectRetryFilter(ConnectRetry retry, TimeProvider time, ILogger<ConnectRetryFilter> logger)
        : IClientConnectionRetryFilter
    {
        private readonly long _started = time.GetTimestamp();
        private int _attempts;

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempts);
            if (time.GetElapsedTime(_started) >= retry.Timeout)
            {
                Log.GivingUp(logger, exception, attempt, retry.Timeout);
                return false;
            }
            Log.Retrying(logger, attempt, exception.Message);
            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
            return true;
        }

        private static partial class Log
        {
            [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Cluster not reachable yet (attempt {Attempt}: {Reason}); retrying in 1 s")]
            public static partial void Retrying(ILogger logger, int attempt, string reason);

            [LoggerMessage(EventId = 1012, Level = LogLevel.Error, Message = "Cluster still not reachable after {Attempts} attempts in {Timeout}; giving up")]
            public static partial void GivingUp(ILogger logger, Exception exception, int attempts, TimeSpan timeout);
        }
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Connections;

/// <summary>
/// How many WebSockets this node holds at most: <see cref="RelayOptions.MaxConnections"/> when it is set, else what the
/// process's open-file limit leaves once <see cref="Headroom"/> descriptors are kept aside; never more than that, so that
/// a full node refuses upgrades with HTTP 503 instead of running out of file descriptors (every socket is one). Logged
/// once at start-up.
/// </summary>
internal sealed partial class ConnectionBudget : IHostedService
{
    /// <summary>Descriptors kept aside from the open-file limit. An idle relay holds about 300 (the runtime keeps two
    /// per loaded assembly, about 140 of them, plus logs, epoll, pipes and its listening sockets); a cluster node adds
    /// one or two per other silo and Orleans client and a few for Redis; <see cref="DescriptorReserve"/> keeps 64 for
    /// the runtime's use when the limit is hit anyway. The other half is for sockets the budget does not count yet or
    /// any more: connections being accepted and upgraded, refused ones being answered, <c>/ping</c>, <c>/metrics</c>
    /// and dashboards (a connect storm at a concurrency of 500 holds up to 500 of them at once).</summary>
    public const int Headroom = 1024;

    /// <summary>Used when the platform has no open-file limit to derive from (Windows).</summary>
    public const int DefaultWithoutLimit = 10_000;

    private readonly ILogger<ConnectionBudget> _logger;

    public ConnectionBudget(IOptions<RelayOptions> options, ILogger<ConnectionBudget> logger)
        : this(options.Value.MaxConnections, Relay.Gateway.Connections.OpenFileLimit.Current, logger)
    {
    }

    internal ConnectionBudget(int? configured, long? openFileLimit, ILogger<ConnectionBudget> logger)
    {
        _logger = logger;
        Configured = configured;
        OpenFileLimit = openFileLimit;
        Allowed = openFileLimit is { } limit ? AllowedBy(limit) : null;
        MaxConnections = (configured, Allowed) switch
        {
            ({ } set, { } allowed) => Math.Min(set, allowed),
            ({ } set, null) => set,
            (null, { } allowed) => allowed,
            (null, null) => DefaultWithoutLimit,
        };
    }

    /// <summary>WebSockets this node holds at most; the next upgrade gets HTTP 503.</summary>
    public int MaxConnections { get; }

    /// <summary><see cref="RelayOptions.MaxConnections"/> as configured (null: not set).</summary>
    public int? Configured { get; }

    /// <summary>The process's open-file limit (null: none known).</summary>
    public long? OpenFileLimit { get; }

    /// <summary>What the open-file limit allows (null: no limit known).</summary>
    public int? Allowed { get; }

    /// <summary>Connections an open-file limit allows: the limit less <see cref="Headroom"/> (or less half of it, for
    /// limits too small to keep a whole headroom aside).</summary>
    public static int AllowedBy(long openFileLimit) =>
        (int)Math.Clamp(openFileLimit - Math.Min(Headroom, openFileLimit / 2), 1, int.MaxValue);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        switch (Configured, Allowed)
        {
            case ({ } set, { } allowed) when set > allowed:
                Log.Clamped(_logger, set, OpenFileLimit!.Value, (int)(OpenFileLimit.Value - allowed), MaxConnections);
                break;
            case ({ } set, { } allowed):
                Log.Configured(_logger, set, OpenFileLimit!.Value, allowed);
                break;
            case (null, { } allowed):
                Log.Derived(_logger, MaxConnections, OpenFileLimit!.Value, (int)(OpenFileLimit.Value - allowed));
                break;
            default:
                Log.NoLimit(_logger, MaxConnections);
                break;
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "This node holds at most {MaxConnections} WebSockets: its open-file limit ({OpenFileLimit}) less {Headroom} descriptors kept for the runtime, the cluster's connections and sockets being accepted or refused (Relay:MaxConnections unset)")]
        public static partial void Derived(ILogger logger, int maxConnections, long openFileLimit, int headroom);

        [LoggerMessage(EventId = 1032, Level = LogLevel.Information, Message = "This node holds at most {MaxConnections} WebSockets (Relay:MaxConnections; its open-file limit {OpenFileLimit} would allow {Allowed})")]
        public static partial void Configured(ILogger logger, int maxConnections, long openFileLimit, int allowed);

        [LoggerMessage(EventId = 1033, Level = LogLevel.Warning, Message = "Relay:MaxConnections is {Configured}, more than the open-file limit ({OpenFileLimit}, less {Headroom} kept aside) allows: this node holds at most {MaxConnections} WebSockets and refuses more with 503; raise the limit (ulimit -n, LimitNOFILE, --ulimit nofile) to hold more")]
        public static partial void Clamped(ILogger logger, int configured, long openFileLimit, int headroom, int maxConnections);

        [LoggerMessage(EventId = 1034, Level = LogLevel.Information, Message = "This node holds at most {MaxConnections} WebSockets (no open-file limit known on this platform)")]
        public static partial void NoLimit(ILogger logger, int maxConnections);
    }
}

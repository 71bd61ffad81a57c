using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Relay.Gateway.Authentication;

/// <summary>
/// The identity provider's metadata (issuer, signing keys), cached by an OpenID Connect
/// <see cref="ConfigurationManager{T}"/> and refreshed every <see cref="RelayAuthOptions.MetadataRefreshInterval"/>
/// in the background. Two rules on top of it:
/// <list type="bullet">
/// <item>Until the metadata was obtained once, one fetch at a time is tried for all callers, and after a failure
/// callers are told "unavailable" at once for <see cref="RetryBackoff"/>: an unreachable provider costs each
/// connection attempt at most one fetch timeout, not one per queued caller.</item>
/// <item>A token whose <c>kid</c> is unknown (key rotation) causes one refresh, which its validation awaits, at most
/// once per <see cref="RelayAuthOptions.KeyRefreshInterval"/>; callers meanwhile join the refresh in flight or get the
/// current keys.</item>
/// </list>
/// Once obtained, metadata is never lost: a provider that goes down later leaves the cached keys in use.
/// </summary>
internal sealed partial class OidcMetadata : IDisposable
{
    /// <summary>How long "unavailable" is answered after a failed first fetch before the next one is tried.</summary>
    public static readonly TimeSpan RetryBackoff = TimeSpan.FromSeconds(1);

    private readonly RelayAuthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OidcMetadata> _logger;
    private readonly HttpClient? _http;
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _manager;
    private readonly Lock _lock = new();

    private volatile bool _obtained;
    private Task<OpenIdConnectConfiguration?>? _firstFetch;
    private long? _lastFirstFetchFailure;
    private long? _lastKeyRefresh;
    private TaskCompletionSource<OpenIdConnectConfiguration?>? _nextFetch;

    public OidcMetadata(IOptions<RelayAuthOptions> options, TimeProvider time, ILogger<OidcMetadata> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        if (!_options.Enabled) return;

        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = _options.MetadataTimeout,
            MaxResponseContentBufferSize = 1024 * 1024,
        };
        _manager = new ConfigurationManager<OpenIdConnectConfiguration>(
            _options.CustomJwtAuthorizer.DiscoveryUrl!, new ObservedRetriever(this), new DiscoveryDocumentRetriever(_http))
        {
            AutomaticRefreshInterval = _options.MetadataRefreshInterval,
            // Relay rate-limits refreshes itself (KeyRefreshInterval, at least 2 s); the manager's own limit (1 s) must
            // not swallow a refresh Relay decided to make.
            RefreshInterval = BaseConfigurationManager.MinimumRefreshInterval,
        };
    }

    public string? DiscoveryUrl => _manager?.MetadataAddress;

    /// <summary>The current metadata, or null when it was never obtained (the provider is unreachable).</summary>
    public async ValueTask<OpenIdConnectConfiguration?> GetAsync(CancellationToken cancellationToken)
    {
        if (_manager is null) return null;
        if (_obtained) return await _manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);

        Task<OpenIdConnectConfiguration?> attempt;
        lock (_lock)
        {
            if (_firstFetch is null)
            {
                if (_lastFirstFetchFailure is { } failed && _time.GetElapsedTime(failed) < RetryBackoff) return null;
                _firstFetch = FirstFetchAsync(_manager);
            }
            attempt = _firstFetch;
        }
        return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A token names a key <paramref name="current"/> lacks: fetches the metadata again unless that was
    /// done less than <see cref="RelayAuthOptions.KeyRefreshInterval"/> ago, and returns the newest metadata.</summary>
    public async ValueTask<OpenIdConnectConfiguration> RefreshForUnknownKeyAsync(OpenIdConnectConfiguration current, CancellationToken cancellationToken)
    {
        if (_manager is null) return current;
        Task<OpenIdConnectConfiguration?> fetch;
        lock (_lock)
        {
            if (_nextFetch is null)
            {
                if (_lastKeyRefresh is { } last && _time.GetElapsedTime(last) < _options.KeyRefreshInterval)
                {
                    Log.RefreshSkipped(_logger);
                    return current;
                }
                _lastKeyRefresh = _time.GetTimestamp();
                _nextFetch = new TaskCompletionSource<OpenIdConnectConfiguration?>(TaskCreationOptions.RunContinuationsAsynchronously);
                Log.RefreshingForUnknownKey(_logger);
                _manager.RequestRefresh();
            }
            fetch = _nextFetch.Task;
        }
        try
        {
            // Bounded: the fetch itself is bounded by the HTTP timeout, twice for discovery document plus JWKS.
            return await fetch.WaitAsync(_options.MetadataTimeout * 2 + TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false)
                ?? current;
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                if (_nextFetch?.Task == fetch) _nextFetch = null;
            }
            return current;
        }
    }

    private async Task<OpenIdConnectConfiguration?> FirstFetchAsync(ConfigurationManager<OpenIdConnectConfiguration> manager)
    {
        await Task.Yield();
        try
        {
            var configuration = await manager.GetConfigurationAsync(CancellationToken.None).ConfigureAwait(false);
            _obtained = true;
            return configuration;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            lock (_lock) _lastFirstFetchFailure = _time.GetTimestamp();
            return null;
        }
        finally
        {
            lock (_lock) _firstFetch = null;
        }
    }

    /// <summary>Every fetch of the manager (first, automatic, requested) ends here: a waiting key refresh learns
    /// its outcome at once.</summary>
    private void Fetched(OpenIdConnectConfiguration? configuration)
    {
        TaskCompletionSource<OpenIdConnectConfiguration?>? waiting;
        lock (_lock)
        {
            waiting = _nextFetch;
            _nextFetch = null;
        }
        waiting?.TrySetResult(configuration);
    }

    public void Dispose() => _http?.Dispose();

    /// <summary>OpenID Connect's own retriever (discovery document, then the JWKS it names), observed, and
    /// stricter: metadata without an issuer or without an asymmetric signing key is a failed fetch, so it never
    /// replaces good metadata.</summary>
    private sealed class ObservedRetriever(OidcMetadata owner) : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            try
            {
                var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(address, retriever, cancel).ConfigureAwait(false);
                if (string.IsNullOrEmpty(configuration.Issuer))
                {
                    throw new InvalidOperationException("the discovery document names no issuer");
                }
                var keys = configuration.SigningKeys.Count(TokenValidator.IsAsymmetric);
                if (keys == 0)
                {
                    throw new InvalidOperationException("the JWKS holds no RSA or EC signing key");
                }
                Log.Fetched(owner._logger, address, keys);
                owner.Fetched(configuration);
                return configuration;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.FetchFailed(owner._logger, address, ex.GetType().Name, ex.Message);
                owner.Fetched(null);
                throw;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Identity provider metadata from {Address}: {Keys} signing key(s)")]
        public static partial void Fetched(ILogger logger, string address, int keys);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Identity provider metadata from {Address} could not be fetched ({ErrorType}: {Error}); cached keys stay in use")]
        public static partial void FetchFailed(ILogger logger, string address, string errorType, string error);

        [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "A token names an unknown signing key: refreshing the signing keys")]
        public static partial void RefreshingForUnknownKey(ILogger logger);

        [LoggerMessage(EventId = 1404, Level = LogLevel.Debug, Message = "A token names an unknown signing key; the keys were refreshed recently, so not again")]
        public static partial void RefreshSkipped(ILogger logger);
    }
}

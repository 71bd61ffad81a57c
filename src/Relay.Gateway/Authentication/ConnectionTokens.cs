using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Authentication;

/// <summary>
/// The token of one authenticated connection after the upgrade: later <c>auth</c> frames refresh it, and with
/// <see cref="TokenExpiryPolicy.Close"/> the socket is closed (1008) when it expires (its <c>exp</c> plus the clock
/// skew) without a refresh.
/// </summary>
internal sealed class ConnectionTokens(IAuthenticatedConnection connection, TokenValidator tokens, RelayMetrics metrics, TimeProvider time)
{
    /// <summary>How long a client whose token expired gets to answer the close frame before the socket is dropped.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    /// <summary>Longest single timer wait (timers take at most about 49 days); a later expiry is re-armed.</summary>
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(24);

    private const string Keeps = "; the connection keeps its authentication";

    private readonly Lock _expiryLock = new();
    private ITimer? _expiry;
    private ITimer? _abortAfterClose;
    private bool _ended;

    /// <summary>A later auth frame's <paramref name="token"/>: a fresher token of the same principal (and mesh)
    /// replaces the connection's, and is redacted from its frames from now on. Returns null then; otherwise the text
    /// of the <c>unauthorized</c> error to answer with (the connection keeps the authentication it had).</summary>
    public async ValueTask<string?> RefreshAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token)) return "an auth frame needs a string token" + Keeps;
        var check = await tokens.ValidateAsync(token, cancellationToken);
        string? refused = check.Status switch
        {
            TokenStatus.Valid when !check.Principal!.IsSameIdentity(connection.Principal!) => "token is for another identity",
            TokenStatus.Valid when check.Principal!.Mesh is { } mesh && mesh != connection.MeshName => ConnectionPrincipal.OtherMeshError,
            TokenStatus.Valid => null,
            _ => check.Error,
        };
        if (refused is not null)
        {
            metrics.AuthRefused("refresh", refused);
            return "token refused: " + refused + Keeps;
        }
        metrics.Authenticated("refresh");
        connection.Authenticate(check.Principal!, token);
        ArmExpiry();
        return null;
    }

    /// <summary>With <see cref="TokenExpiryPolicy.Close"/>: (re)arms the timer that closes the socket when the
    /// connection's token expires.</summary>
    public void ArmExpiry()
    {
        if (tokens.Options.OnExpiry != TokenExpiryPolicy.Close || connection.Principal is not { } principal) return;
        var wait = principal.ExpiresAt + tokens.Options.ClockSkew - time.GetUtcNow();
        wait = wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxTimerWait ? MaxTimerWait : wait;
        lock (_expiryLock)
        {
            if (_ended) return;
            _expiry?.Dispose();
            _expiry = time.CreateTimer(static state => ((ConnectionTokens)state!).OnExpiry(), this, wait, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The connection's reader has ended: no timer fires from now on.</summary>
    public void Stop()
    {
        lock (_expiryLock)
        {
            _ended = true;
            _expiry?.Dispose();
            _abortAfterClose?.Dispose();
        }
    }

    private void OnExpiry()
    {
        if (connection.Principal is not { } principal) return;
        if (principal.ExpiresAt + tokens.Options.ClockSkew > time.GetUtcNow())
        {
            ArmExpiry(); // refreshed meanwhile, or a very distant expiry
            return;
        }
        lock (_expiryLock)
        {
            if (_ended || connection.IsClosing) return;
            metrics.AuthRefused("expiry", "token expired");
            metrics.Disconnected("token_expired");
            connection.RequestClose(CloseCodes.PolicyViolation, "token expired");
            // A client that does not answer the close frame keeps the reader waiting: drop it after a grace period.
            _abortAfterClose = time.CreateTimer(static state => ((IAuthenticatedConnection)state!).Abort(), connection, CloseGrace, Timeout.InfiniteTimeSpan);
        }
    }
}

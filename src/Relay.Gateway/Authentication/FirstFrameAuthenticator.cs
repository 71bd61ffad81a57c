using System.Globalization;
using System.Net.WebSockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Authentication;

/// <summary>
/// Auth on, no token at the upgrade (browsers cannot set headers on a WebSocket): the accepted socket's first frame
/// must be <c>{"type":"auth","token":"..."}</c>, within <see cref="RelayAuthOptions.FirstFrameTimeout"/>. This runs
/// before the connection exists for the relay (no mesh, no registry, no routing), so an unauthenticated socket never
/// reaches a mesh. A bad, late or missing token closes the socket with 1008 and a reason; an unreachable identity
/// provider with 1013 (try again later).
/// </summary>
internal sealed partial class FirstFrameAuthenticator(
    TokenValidator validator,
    IOptions<RelayOptions> relayOptions,
    IHostApplicationLifetime lifetime,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<FirstFrameAuthenticator> logger)
{
    /// <summary>How long a refused client gets to answer the close frame before the socket is dropped.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    private const string Stage = "first_frame";

    /// <summary>Largest first frame: a token and a little JSON around it.</summary>
    private int MaxFrameBytes => Math.Min(relayOptions.Value.MaxFrameBytes, TokenValidator.MaxTokenLength + 1024);

    /// <summary>The principal and the token, or null when the socket was refused and closed (or went away).
    /// <paramref name="requestedMesh"/> is the URL's <c>?mesh=</c> (null when absent); on success
    /// <see cref="Authenticated.Mesh"/> is the connection's mesh.</summary>
    public async Task<Authenticated?> AuthenticateAsync(WebSocket socket, string? requestedMesh, string defaultMesh, CancellationToken cancellationToken)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
            var wait = Task.Delay(validator.Options.FirstFrameTimeout, time, deadline.Token);
            var receive = ReceiveFirstAsync(socket, cancellationToken);
            var first = await Task.WhenAny(receive, wait).ConfigureAwait(false);
            await deadline.CancelAsync().ConfigureAwait(false);
            if (first != receive)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    socket.Abort(); // the request itself was aborted
                    await ObserveAsync(receive).ConfigureAwait(false);
                    return null;
                }
                if (lifetime.ApplicationStopping.IsCancellationRequested)
                {
                    await CloseAsync(socket, CloseCodes.ServiceRestart, "relay shutting down", receive).ConfigureAwait(false);
                    return null;
                }
                return await RefuseAsync(socket, "timeout", string.Create(CultureInfo.InvariantCulture,
                    $"no auth frame within {validator.Options.FirstFrameTimeout.TotalSeconds:0.###} s"), receive).ConfigureAwait(false);
            }

            var (frame, length, type) = await receive.ConfigureAwait(false);
            switch (type)
            {
                case WebSocketMessageType.Close:
                    await CloseAsync(socket, CloseCodes.Normal, "", pendingReceive: null).ConfigureAwait(false);
                    return null;
                case WebSocketMessageType.Binary:
                    return await RefuseAsync(socket, "missing", "first frame must be a text auth frame", null).ConfigureAwait(false);
            }
            if (length > MaxFrameBytes)
            {
                return await RefuseAsync(socket, "too_large", "auth frame too large", null).ConfigureAwait(false);
            }

            var parsed = FrameParser.Parse(frame.AsSpan(0, length));
            if (!parsed.IsValid || parsed.Kind != FrameKind.Auth || string.IsNullOrEmpty(parsed.Token))
            {
                return await RefuseAsync(socket, "missing", "authentication required: first frame must be {\"type\":\"auth\",\"token\":...}", null)
                    .ConfigureAwait(false);
            }

            var token = parsed.Token;
            var check = await validator.ValidateAsync(token, cancellationToken).ConfigureAwait(false);
            switch (check.Status)
            {
                case TokenStatus.Unavailable:
                    metrics.AuthRefused(Stage, check.Error!);
                    Log.Refused(logger, check.Error!);
                    await CloseAsync(socket, CloseCodes.TryAgainLater, "identity provider unavailable; try again later", null).ConfigureAwait(false);
                    return null;
                case TokenStatus.Invalid:
                    return await RefuseAsync(socket, check.Error!, "invalid token: " + check.Error, null).ConfigureAwait(false);
            }
            var principal = check.Principal!;
            if (!principal.TryChooseMesh(requestedMesh, defaultMesh, out var mesh))
            {
                return await RefuseAsync(socket, "other_mesh", ConnectionPrincipal.OtherMeshError, null).ConfigureAwait(false);
            }
            metrics.Authenticated(Stage);
            return new Authenticated(principal, token, mesh);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            return null; // the transport ended while waiting
        }
    }

    /// <summary>Reads one whole message (up to <see cref="MaxFrameBytes"/> plus one byte, to see it is too large).
    /// Not pooled: this runs once per connection, and may still be running when a timed-out socket is dropped.</summary>
    private async Task<(byte[] Frame, int Length, WebSocketMessageType Type)> ReceiveFirstAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length) Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxFrameBytes + 1));
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            length += result.Count;
            if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage || length > MaxFrameBytes)
            {
                return (buffer, length, result.MessageType);
            }
        }
    }

    private async Task<Authenticated?> RefuseAsync(WebSocket socket, string reasonTag, string closeReason, Task? pendingReceive)
    {
        metrics.AuthRefused(Stage, reasonTag);
        Log.Refused(logger, reasonTag);
        await CloseAsync(socket, CloseCodes.PolicyViolation, closeReason, pendingReceive).ConfigureAwait(false);
        return null;
    }

    /// <summary>Closes an authenticated socket that cannot be served after all (e.g. its token's mesh would go over a
    /// limit of this node), with the same bounded handshake as a refusal.</summary>
    public Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason) => CloseAsync(socket, status, reason, pendingReceive: null);

    /// <summary>Sends the close frame and waits (briefly) for the client's; a client that does not answer is dropped.</summary>
    private async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason, Task? pendingReceive)
    {
        try
        {
            using var grace = new CancellationTokenSource(CloseGrace, time);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(status, CloseReason.Fit(reason), grace.Token).ConfigureAwait(false);
            }
            if (pendingReceive is not null) await pendingReceive.WaitAsync(grace.Token).ConfigureAwait(false);
            var scratch = new byte[256];
            while (socket.State == WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(scratch.AsMemory(), grace.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close) break;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
            socket.Abort();
        }
        if (pendingReceive is not null) await ObserveAsync(pendingReceive).ConfigureAwait(false);
    }

    /// <summary>Waits for a receive that the socket's abort or close ended, so its outcome is observed.</summary>
    private static async Task ObserveAsync(Task receive)
    {
        try
        {
            await receive.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // expected: the socket was aborted or closed under it
        }
    }

    /// <summary>A socket that authenticated with its first frame.</summary>
    public sealed record Authenticated(ConnectionPrincipal Principal, string Token, string Mesh);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1421, Level = LogLevel.Debug, Message = "First-frame authentication of a socket refused ({Reason})")]
        public static partial void Refused(ILogger logger, string reason);
    }
}

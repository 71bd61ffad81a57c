using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Connections;
using Relay.Gateway.Dashboard;
using Relay.Gateway.Diagnostics;
using Relay.Gateway.Routing;
using Relay.Gateway.Shared;
using Relay.Grains;
using Relay.Grains.Contracts;
using Relay.Protocol;

namespace Relay.Gateway.Endpoints;

/// <summary>Accepts a relay WebSocket (at <c>/ws</c> and <c>/</c>) and runs it until it ends.</summary>
internal sealed partial class RelayWebSocketHandler(
    IOptions<RelayOptions> relayOptions,
    IOptions<LivenessOptions> livenessOptions,
    ConnectionRegistry connections,
    MeshRegistry meshes,
    PeerMembership membership,
    PresenceHandler presence,
    EchoTypes echoTypes,
    ErrorReplies errors,
    ConnectionAdmission admission,
    ConnectRateLimiter connectRate,
    MeshQuota meshQuota,
    ConnectionBudget budget,
    DrainState drain,
    LagShedding lagging,
    TokenValidator tokens,
    FirstFrameAuthenticator firstFrame,
    RelayMetrics metrics,
    DisconnectLog disconnects,
    ILivenessReports liveness,
    TimeProvider time,
    ILogger<RelayWebSocketHandler> logger)
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);
    private readonly RelayOptions _options = relayOptions.Value;
    private readonly AllowedOrigins _origins = new(relayOptions.Value.AllowedOrigins);
    // One delegate for the node rather than a closure per connection.
    private readonly Func<RelayConnection, long, byte[]> _droppedNotice = errors.DroppedNotice;

    // One delegate for the node: a connection makes its error gate with it at its first error.
    private readonly Func<ErrorGate> _newErrorGate = () => new ErrorGate(new TokenBucket(
        relayOptions.Value.ErrorsPerSecond, relayOptions.Value.ErrorBurst, Stopwatch.GetTimestamp(), Stopwatch.Frequency));

    /// <summary>The <c>/ws</c> endpoint: admits the upgrade and runs the socket until it ends.</summary>
    public Task HandleAsync(HttpContext context) => RunAsync(AdmitAsync(context));

    /// <summary>
    /// Checks an upgrade request against every rule and limit and accepts its WebSocket (authenticating its first
    /// frame when the upgrade brought no token). Null when the request was answered instead (refused) or the socket
    /// closed before it was admitted. The session keeps nothing of <paramref name="context"/>, so that a handshake
    /// served below ASP.NET Core (<see cref="DirectUpgradeMiddleware"/>) releases the request's objects once accepted.
    /// </summary>
    public async Task<RelaySession?> AdmitAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            await context.Response.WriteAsync("Relay: open a WebSocket here (ws://host:port/ws).");
            return null;
        }
        if (!_origins.Allows(context.Request.Headers.Origin))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Relay: this page's origin may not open a relay WebSocket (Relay:AllowedOrigins).");
            return null;
        }
        // The upgrade's span ends once the socket is accepted and authenticated (RunAsync ends it), not with the
        // connection, which may last days; the connection's presences have spans of their own.
        var upgrade = RelayActivities.StartUpgrade(context.Request.Headers.TraceParent, context.Request.Headers.TraceState);
        ConnectionAdmission.Slot? slot = null;
        MeshQuota.Claim? claim = null;
        MeshView? mesh = null;
        try
        {
            var requestedMesh = QueryParameter.First(context.Request.QueryString, "mesh");
            var meshName = requestedMesh ?? _options.DefaultMesh;
            if (!GrainKeys.IsValidMesh(meshName))
            {
                RelayActivities.Failed(upgrade, "invalid_mesh");
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("mesh: 1-128 characters of A-Z a-z 0-9 - _ . ~");
                return null;
            }
            if (drain.IsDraining)
            {
                await RefuseAsync(context, upgrade, "draining", "this relay node is restarting; connect again (to another node)");
                return null;
            }
            // Before anything is spent on the request (a connect-rate token, a slot): a node behind its own work must
            // not take on more of it. Open connections are not affected.
            if (lagging.Refuses())
            {
                await RefuseAsync(context, upgrade, "lagging", string.Create(CultureInfo.InvariantCulture,
                    $"this relay node is running behind (work waits over {lagging.Threshold.TotalMilliseconds:F0} ms for a thread); try again later"));
                return null;
            }

            var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
            if (!connectRate.TryConnect(address))
            {
                metrics.Refused("connect_rate");
                RelayActivities.Failed(upgrade, "connect_rate");
                Log.ConnectRateRefused(logger);
                await ServiceUnavailable.WriteAsync(context, StatusCodes.Status429TooManyRequests, connectRate.RetryAfter, string.Create(CultureInfo.InvariantCulture,
                    $"this address opens connections faster than {_options.ConnectsPerSecondPerAddress}/s (bursts of {_options.ConnectBurstPerAddress}); try again later"));
                return null;
            }

            // A slot of this node's connection budget, taken before anything else is spent on the request and given
            // back when the session ends, however it ends.
            if ((slot = admission.TryAdmit(address, out var refusal)) is null)
            {
                await (refusal == ConnectionAdmission.Refusal.NodeFull
                    ? RefuseAsync(context, upgrade, "node_limit", $"this relay node holds its maximum of {budget.MaxConnections} connections; try again later")
                    : RefuseAsync(context, upgrade, "address_limit", $"this address holds its maximum of {_options.MaxConnectionsPerAddress} connections to this relay node"));
                return null;
            }

            // Auth on: a token at the upgrade is checked before accepting (401 / 403 / 503); without one, the socket's
            // first frame must bring it. Either way, nothing below runs for an unauthenticated socket.
            ConnectionPrincipal? principal = null;
            var token = tokens.Enabled ? BearerToken.FromRequest(context.Request) : null;
            if (token is not null)
            {
                var check = await tokens.ValidateAsync(token, context.RequestAborted);
                if (check.Status != TokenStatus.Valid)
                {
                    metrics.AuthRefused("upgrade", check.Error!);
                    RelayActivities.Failed(upgrade, "auth_refused");
                    await HttpChallenge.RefusedAsync(context, check);
                    return null;
                }
                principal = check.Principal!;
                if (!principal.TryChooseMesh(requestedMesh, _options.DefaultMesh, out meshName))
                {
                    metrics.AuthRefused("upgrade", "other_mesh");
                    RelayActivities.Failed(upgrade, "auth_refused");
                    await HttpChallenge.OtherMeshAsync(context);
                    return null;
                }
                metrics.Authenticated("upgrade");
            }

            // The mesh is known now unless the first frame still has to authenticate (its token may name the mesh).
            var firstFrameAuth = tokens.Enabled && principal is null;
            if (!firstFrameAuth)
            {
                if ((claim = meshQuota.TryClaim(address, principal?.Key, meshName, out var over)) is null)
                {
                    await RefuseAsync(context, upgrade, QuotaReason(over), QuotaText(over));
                    return null;
                }
                if ((mesh = meshes.TryJoin(meshName)) is null)
                {
                    await RefuseAsync(context, upgrade, "mesh_limit", MeshLimitText);
                    return null;
                }
            }
            var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = _options.PingInterval,
                // .NET aborts a socket whose pong is late even while the client's frames keep arriving, and a pong
                // waits behind whatever was queued for the client before the ping: a client slowly reading a large
                // snapshot, but sending presence all along, was aborted (1006) at 10,000 peers. Give the pong a
                // second stale timeout. A dead transport's peer still goes offline at the stale timeout (its
                // silence is reaped); only its socket is closed that much later.
                KeepAliveTimeout = livenessOptions.Value.StaleTimeout * 2,
            });
            if (firstFrameAuth)
            {
                if (await firstFrame.AuthenticateAsync(socket, requestedMesh, _options.DefaultMesh, context.RequestAborted) is not { } first)
                {
                    RelayActivities.Failed(upgrade, "auth_refused");
                    return null;
                }
                (principal, token, meshName) = (first.Principal, first.Token, first.Mesh);
                if ((claim = meshQuota.TryClaim(address, principal.Key, meshName, out var over)) is null)
                {
                    metrics.Refused(QuotaReason(over));
                    RelayActivities.Failed(upgrade, QuotaReason(over));
                    await firstFrame.CloseAsync(socket, CloseCodes.TryAgainLater, QuotaText(over));
                    return null;
                }
                if ((mesh = meshes.TryJoin(meshName)) is null)
                {
                    metrics.Refused("mesh_limit");
                    RelayActivities.Failed(upgrade, "mesh_limit");
                    await firstFrame.CloseAsync(socket, CloseCodes.TryAgainLater, MeshLimitText);
                    return null;
                }
            }
            var session = new RelaySession(CreateConnection(context, socket, mesh!), socket, mesh!, principal, token, upgrade, slot, claim!);
            (slot, claim, mesh, upgrade) = (null, null, null, null); // the session's now
            return session;
        }
        finally
        {
            if (mesh is not null) meshes.Leave(mesh);
            claim?.Dispose();
            slot?.Dispose();
            upgrade?.Dispose();
        }
    }

    /// <summary>Runs a socket once <paramref name="admission"/> admitted it (nothing when it yields null) until it ends,
    /// then gives back what its admission took.</summary>
    /// <remarks>It awaits the admission itself so that its caller need not: a caller awaiting both would keep one more
    /// suspended method (about 180 bytes) for every socket's life.</remarks>
    public async Task RunAsync(Task<RelaySession?> admission)
    {
        var admitted = await admission;
        // The parameter lives as long as this method: the finished admission (its method's whole state, about 180
        // bytes) would stay with every socket.
        admission = null!;
        if (admitted is not { } session) return;
        var (connection, socket, mesh) = (session.Connection, session.Socket, session.Mesh);
        try
        {
            connection.StartRegistrationDeadline(_options.RegistrationTimeout);
            if (session.Principal is not null) connection.Authenticate(session.Principal, session.Token!);
            connections.Add(connection);
            session.EndUpgrade();
            // Accepted while the drain began: the drainer may have listed the connections before this one was added.
            if (drain.IsDraining) connection.RequestClose(CloseCodes.ServiceRestart, "relay restarting");
            metrics.Connected();
            Log.Opened(logger, connection.Id, mesh.Name);

            // Not tied to ApplicationStopping: on shutdown the ConnectionDrainer closes sockets with 1012 after their
            // queues drained, and sessions end through the close handshake. Nor to RequestAborted: the reader ends when
            // the transport does (Kestrel completes its reads once the connection is gone, aborted or not), and the
            // writer when the reader ends; the token would cost every connection a CancellationTokenSource and the
            // registrations of its pending receive and doorbell wait for life (bench/results/2026-12-03-scale-memory.md).
            var stop = CancellationToken.None;
            var writer = connection.RunWriterAsync(_droppedNotice, metrics, stop);
            var connectionTokens = tokens.Enabled ? new ConnectionTokens(connection, tokens, metrics, time) : null;
            var frames = new FrameHandler(connection, mesh, _options, presence, echoTypes, errors, metrics, liveness, time, connectionTokens);
            var reader = new ConnectionReader(connection, socket, _options.MaxFrameBytes, frames, errors, metrics, time);
            connectionTokens?.ArmExpiry();
            try
            {
                await reader.RunAsync(stop);
            }
            finally
            {
                connectionTokens?.Stop();
                var requested = connection.RequestedClose; // before the normal close below: why the session ended
                await membership.LeaveAsync(mesh, connection, reaped: false);
                connection.RequestClose(CloseCodes.Normal, "");
                if (await Task.WhenAny(writer, Task.Delay(CloseGrace, time, CancellationToken.None)) != writer) connection.Abort();
                connection.CompleteWriter();
                connections.Remove(connection);
                metrics.Closed();
                disconnects.Closed(mesh.Name, connection.PeerId, requested, socket.CloseStatus);
                Log.Closed(logger, connection.Id, socket.CloseStatus);
            }
        }
        finally
        {
            meshes.Leave(mesh);
            session.Release();
        }
    }

    private static string QuotaReason(MeshQuota.Refusal refusal) =>
        refusal == MeshQuota.Refusal.PrincipalFull ? "principal_mesh_limit" : "address_mesh_limit";

    private string QuotaText(MeshQuota.Refusal refusal) => refusal == MeshQuota.Refusal.PrincipalFull
        ? $"this identity is in its maximum of {_options.MaxMeshesPerPrincipal} meshes on this relay node; close one first"
        : $"this address is in its maximum of {_options.MaxMeshesPerAddress} meshes on this relay node; close one first";

    private string MeshLimitText => $"this relay node serves its maximum of {_options.MaxMeshes} meshes; try again later";

    private Task RefuseAsync(HttpContext context, Activity? upgrade, string reason, string text)
    {
        metrics.Refused(reason);
        RelayActivities.Failed(upgrade, reason);
        Log.Refused(logger, reason);
        return ServiceUnavailable.WriteAsync(context, _options.RetryAfter, text);
    }

    private RelayConnection CreateConnection(HttpContext context, WebSocket socket, MeshView mesh)
    {
        var now = Stopwatch.GetTimestamp();
        // The send queue's and the echo memory's critical sections take no other lock (but the frame pool's): one lock
        // serves both, where each had its own.
        var gate = new Lock();
        var echo = echoTypes.Enabled
            ? new EchoFilter(capacity: 128, windowTicks: (long)(_options.EchoWindow.TotalSeconds * Stopwatch.Frequency), gate)
            : null;
        return new RelayConnection(
            connections.NextId(), mesh.Name, socket, WriteCoalescingUpgrade.TransportOf(context), _options.SendQueueBytes, time, gate, echo,
            CredentialRedactor.FromQueryString(context.Request.QueryString.Value, BearerToken.FromHeader(context.Request)),
            new TokenBucket(_options.RateLimitPerSecond, _options.RateLimitBurst, now, Stopwatch.Frequency),
            new TokenBucket(_options.ByteRateLimitPerSecond, _options.ByteRateLimitBurst, now, Stopwatch.Frequency),
            _newErrorGate);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Connection {ConnectionId} opened in mesh {Mesh}")]
        public static partial void Opened(ILogger logger, long connectionId, string mesh);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed ({CloseStatus})")]
        public static partial void Closed(ILogger logger, long connectionId, WebSocketCloseStatus? closeStatus);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Upgrade refused with 503 ({Reason})")]
        public static partial void Refused(ILogger logger, string reason);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Upgrade refused with 429 (connect rate of its address)")]
        public static partial void ConnectRateRefused(ILogger logger);
    }
}

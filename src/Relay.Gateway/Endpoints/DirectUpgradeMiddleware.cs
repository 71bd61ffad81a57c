using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace Relay.Gateway.Endpoints;

/// <summary>
/// A Kestrel connection middleware that serves a relay WebSocket's handshake itself when a connection's first bytes
/// are one (<see cref="UpgradeRequestHead"/>), and hands every other connection to Kestrel's HTTP as it came.
/// </summary>
/// <remarks>
/// <para>Why: a WebSocket accepted through ASP.NET Core keeps its HTTP/1.1 request for the socket's life (the
/// connection, its headers, features and context, about 6 KB), and no option releases them; at 18,000 idle peers that is
/// a quarter of a node's memory (docs/performance.md, "Memory per peer"). Here the request is a
/// <see cref="DefaultHttpContext"/> that lives only while the upgrade is admitted.</para>
/// <para>The same <see cref="RelayWebSocketHandler.AdmitAsync"/> decides: every check, limit, refusal text and status
/// is the endpoint's. A refusal is written as a complete HTTP/1.1 answer with <c>Connection: close</c>. Only the first
/// read is looked at: a head that arrives in pieces, or anything else, goes to Kestrel untouched (its bytes are not
/// consumed), where the <c>/ws</c> endpoint serves it as before. A connection that sends nothing within Kestrel's
/// <c>RequestHeadersTimeout</c> is closed.</para>
/// </remarks>
internal sealed partial class DirectUpgradeMiddleware(ConnectionDelegate next, RelayWebSocketHandler handler, KestrelServerLimits limits, ILogger logger)
{
    /// <summary>Runs the connection: its handshake here and then its socket, or all of it in Kestrel's HTTP. The
    /// session's run awaits the handshake, so no method of this middleware stays suspended for the socket's life.</summary>
    public Task OnConnectionAsync(ConnectionContext connection) => handler.RunAsync(HandshakeAsync(connection));

    /// <summary>The admitted session of a direct upgrade; null when the connection was served otherwise (refused,
    /// closed, or handed to Kestrel and done).</summary>
    private async Task<RelaySession?> HandshakeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        ReadResult first;
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed))
        {
            wait.CancelAfter(limits.RequestHeadersTimeout);
            try
            {
                first = await input.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                return null; // nothing sent in time, or gone
            }
        }
        if (first.IsCanceled || (first.IsCompleted && first.Buffer.IsEmpty))
        {
            input.AdvanceTo(first.Buffer.Start);
            return null;
        }

        var head = UpgradeRequestHead.TryParse(first.Buffer, limits.MaxRequestLineSize + limits.MaxRequestHeadersTotalSize, limits.MaxRequestHeaderCount);
        if (head is null)
        {
            input.AdvanceTo(first.Buffer.Start); // unread, for Kestrel's first read to return at once
            await next(connection);
            return null;
        }
        input.AdvanceTo(first.Buffer.GetPosition(head.Length));

        // Admitted in a method of its own, so that the request's objects are garbage once it returns.
        return await AdmitAsync(connection, head);
    }

    private async Task<RelaySession?> AdmitAsync(ConnectionContext connection, UpgradeRequestHead head)
    {
        var webSocket = new DirectWebSocketFeature(connection, head.Key);
        var response = new HttpResponseFeature();
        using var body = new MemoryStream();
        var context = new DefaultHttpContext(Features(connection, head, webSocket, response, body));
        try
        {
            var session = await handler.AdmitAsync(context);
            if (!webSocket.Accepted) await AnswerAsync(connection.Transport.Output, response, body);
            return session;
        }
        catch (Exception e) when (!webSocket.Accepted && e is not OperationCanceledException)
        {
            Log.AdmissionFailed(logger, connection.ConnectionId, e);
            response.StatusCode = StatusCodes.Status500InternalServerError;
            response.Headers.Clear();
            body.SetLength(0);
            await AnswerAsync(connection.Transport.Output, response, body);
            return null;
        }
    }

    private static FeatureCollection Features(ConnectionContext connection, UpgradeRequestHead head, DirectWebSocketFeature webSocket,
        HttpResponseFeature response, MemoryStream body)
    {
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Protocol = "HTTP/1.1",
            Scheme = "http",
            Method = HttpMethods.Get,
            PathBase = "",
            Path = head.Path,
            QueryString = head.QueryString,
            RawTarget = head.Path + head.QueryString,
            Headers = head.Headers,
        });
        features.Set<IHttpResponseFeature>(response);
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body));
        var remote = connection.RemoteEndPoint as IPEndPoint;
        var local = connection.LocalEndPoint as IPEndPoint;
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            ConnectionId = connection.ConnectionId,
            RemoteIpAddress = remote?.Address,
            RemotePort = remote?.Port ?? 0,
            LocalIpAddress = local?.Address,
            LocalPort = local?.Port ?? 0,
        });
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = connection.ConnectionClosed });
        features.Set<IHttpWebSocketFeature>(webSocket);
        features.Set<IWebSocketTransportFeature>(webSocket);
        return features;
    }

    /// <summary>The handler's refusal as an HTTP/1.1 answer; the connection closes after it.</summary>
    private static async Task AnswerAsync(PipeWriter output, HttpResponseFeature response, MemoryStream body)
    {
        var head = new StringBuilder().Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {response.StatusCode} {ReasonPhrases.GetReasonPhrase(response.StatusCode)}\r\n");
        foreach (var (name, values) in response.Headers)
        {
            if (string.Equals(name, "Connection", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var value in values) head.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        head.Append(CultureInfo.InvariantCulture, $"Date: {DateTimeOffset.UtcNow:r}\r\nConnection: close\r\nContent-Length: {body.Length}\r\n\r\n");
        await output.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        await output.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1040, Level = LogLevel.Error, Message = "Admitting the WebSocket upgrade of connection {ConnectionId} failed; answered 500")]
        public static partial void AdmissionFailed(ILogger logger, string connectionId, Exception exception);
    }
}

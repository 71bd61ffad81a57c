using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;
using Relay.Gateway.Diagnostics;

namespace Relay.Gateway.Connections;

/// <summary>Kestrel's transport for the endpoints its socket transport binds (TCP, Unix sockets, inherited handles),
/// with <see cref="SheddingSocketListener"/>'s accept loop. Registered after Kestrel's own, so Kestrel picks it.</summary>
internal sealed class SheddingSocketTransport(
    IOptions<SocketTransportOptions> options,
    IOptions<RelayOptions> relayOptions,
    RelayMetrics metrics,
    TimeProvider time,
    ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly byte[] _refusal = ServiceUnavailable.Http11Response(relayOptions.Value.RetryAfter,
        "this relay node is out of file descriptors; try again later");

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint or UnixDomainSocketEndPoint or FileHandleEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var listener = new SheddingSocketListener(endpoint, options.Value, _refusal, metrics, time,
            loggers.CreateLogger<SheddingSocketListener>());
        listener.Bind();
        return new ValueTask<IConnectionListener>(listener);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// Clients at other addresses, on one machine: the whole 127.0.0.0/8 block is loopback on Linux, so a socket bound
/// to 127.0.0.2 before it connects to the relay on 127.0.0.1 is, for the relay, a client at another address.
/// </summary>
public static class LocalAddress
{
    private static readonly ConcurrentDictionary<IPAddress, HttpMessageInvoker> Invokers = new();

    /// <summary>A handler for <see cref="System.Net.WebSockets.ClientWebSocket.ConnectAsync(Uri, HttpMessageInvoker, CancellationToken)"/>
    /// whose connections leave from <paramref name="address"/>. One per address, kept for the test run (the
    /// upgraded sockets it opens must outlive any one test's use of it).</summary>
    public static HttpMessageInvoker Invoker(IPAddress address) => Invokers.GetOrAdd(address, static local => new HttpMessageInvoker(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    }));

    /// <summary>An HTTP client for <paramref name="baseAddress"/> whose connections leave from <paramref name="address"/>;
    /// the caller disposes it.</summary>
    public static HttpClient HttpClient(IPAddress address, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(address, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
}

using System.Net.WebSockets;
using Relay.Gateway.Routing;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// The last <see cref="Capacity"/> connections that closed on this node, and peers reaped for silence, with why, for
/// the dashboard. Reasons are the relay's own texts (the close it asked for) or "closed by client" / "connection
/// lost": never a client's close description, which is client data. It hears of reaps as a membership listener.
/// </summary>
internal sealed class DisconnectLog(TimeProvider time) : IMembershipListener
{
    public const int Capacity = 50;

    private readonly Lock _lock = new();
    private readonly DisconnectInfo[] _ring = new DisconnectInfo[Capacity];
    private int _next;
    private int _count;

    /// <summary>A connection ended. <paramref name="requested"/>: the close this node asked for before the session ended
    /// (reason text chosen by the relay), if any; <paramref name="received"/>: the client's close status, if it sent one.</summary>
    public void Closed(string mesh, string? peerId, (WebSocketCloseStatus Status, string Reason)? requested, WebSocketCloseStatus? received)
    {
        var entry = requested is { } close
            ? new DisconnectInfo(Now(), mesh, peerId, (int)close.Status, close.Reason.Length > 0 ? close.Reason : "closed by relay")
            : received is { } status
                ? new DisconnectInfo(Now(), mesh, peerId, (int)status, "closed by client")
                : new DisconnectInfo(Now(), mesh, peerId, null, "connection lost");
        Add(entry);
    }

    /// <summary>A connection was unregistered after the stale timeout (its socket stays open).</summary>
    public void Reaped(string mesh, string peerId) => Add(new DisconnectInfo(Now(), mesh, peerId, null, "reaped (silent)"));

    /// <summary>The entries, newest first.</summary>
    public DisconnectInfo[] Recent()
    {
        lock (_lock)
        {
            var entries = new DisconnectInfo[_count];
            for (var i = 0; i < _count; i++) entries[i] = _ring[(_next - 1 - i + Capacity) % Capacity];
            return entries;
        }
    }

    private void Add(DisconnectInfo entry)
    {
        lock (_lock)
        {
            _ring[_next] = entry;
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();
}

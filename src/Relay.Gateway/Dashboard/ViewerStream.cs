namespace Relay.Gateway.Dashboard;

/// <summary>One open dashboard event stream: <see cref="Ended"/> is cancelled when a newer viewer takes its place.</summary>
internal sealed class ViewerStream(DashboardStreams streams, string address) : IDisposable
{
    // Never disposed: it has no timer and no linked token, and End may race with the stream's own close.
    private readonly CancellationTokenSource _ended = new();

    public string Address { get; } = address;

    public CancellationToken Ended => _ended.Token;

    internal LinkedListNode<ViewerStream>? Node { get; set; }

    internal void End() => _ended.Cancel();

    public void Dispose() => streams.Close(this);
}

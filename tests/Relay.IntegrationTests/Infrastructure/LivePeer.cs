using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A test peer that stays alive like the real clients: registered, then its presence again every 10 s.</summary>
internal static class LivePeer
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(10);

    /// <summary>Connects to <paramref name="uri"/> as <paramref name="id"/> (an id with a '-') or as a fresh id with that
    /// prefix, registers and starts the keep-alive.</summary>
    public static async Task<TestPeer> ConnectAsync(Uri uri, string id)
    {
        var peer = await TestPeer.ConnectAsync(uri, id.Contains('-', StringComparison.Ordinal) ? id : TestPeer.NewId(id));
        await peer.RegisterAsync();
        peer.StartKeepAlive(KeepAlive, usePresence: true);
        return peer;
    }
}

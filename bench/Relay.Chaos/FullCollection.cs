using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace Relay.Chaos;

/// <summary>
/// Makes a relay process run a full, blocking garbage collection, from outside, through its diagnostics port: the
/// runtime collects when an EventPipe session enables its provider's GCHeapCollect keyword (what dotnet-gcdump does
/// before it walks a heap). Without it, the heap a node reports after its last GC still holds whatever gen2 has not
/// collected yet, which over a few minutes can look like a leak, or hide one.
/// </summary>
internal static class FullCollection
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const long GCHeapCollectKeyword = 0x800000;

    /// <summary>Asks for the collection; returns false when the process did not answer (being killed, not .NET).
    /// The collection itself runs when the session starts; whoever needs it done waits for its effect.</summary>
    public static async Task<bool> RequestAsync(int pid, CancellationToken cancellation)
    {
        try
        {
            var client = new DiagnosticsClient(pid);
            var providers = new[] { new EventPipeProvider(RuntimeProvider, EventLevel.Informational, GCHeapCollectKeyword) };
            using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 4, cancellation);
            // The stream is read to its end so that the runtime never waits on a full pipe while it stops the session.
            var drained = session.EventStream.CopyToAsync(Stream.Null, cancellation);
            await session.StopAsync(cancellation);
            await drained.WaitAsync(TimeSpan.FromSeconds(5), cancellation);
            return true;
        }
        catch (Exception e) when (e is ServerNotAvailableException or UnsupportedCommandException or ServerErrorException or IOException
            or TimeoutException or OperationCanceledException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

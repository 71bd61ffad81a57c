using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Relay.Chaos;

/// <summary>One roster compared with the open registered sockets of its mesh.</summary>
internal readonly record struct RosterDifference(string Mesh, string Source, string[] Missing, string[] Extra);

/// <summary>
/// At the end, every roster must equal the set of open registered sockets: the mesh grain's (<c>POST /invocations</c>
/// through a gateway) and each gateway's view, as a newcomer's snapshot on that gateway shows it.
/// </summary>
internal static class FinalRosters
{
    private static readonly TimeSpan SnapshotWait = TimeSpan.FromSeconds(10);

    public static async Task<List<RosterDifference>> CompareAsync(ChaosOptions options, PeerTraffic traffic, string run)
    {
        var differences = new List<RosterDifference>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        // Eight meshes at a time: the check must end well within the stale timeout.
        await Parallel.ForEachAsync(traffic.Slots.GroupBy(s => s.MeshName), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (mesh, cancellation) =>
        {
            var expected = mesh.Where(s => s.Current is not null).Select(s => s.PeerId).ToHashSet(StringComparer.Ordinal);
            var invocation = new UriBuilder(options.Urls[0]) { Scheme = "http", Path = "/invocations", Query = $"mesh={mesh.Key}" }.Uri;
            using var response = await http.PostAsync(invocation, new StringContent("{}", Encoding.UTF8, "application/json"), cancellation);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellation));
            var listed = body.RootElement.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!);
            Add(differences, mesh.Key, "mesh grain (/invocations)", expected, listed);
            for (var g = 0; g < options.Urls.Length; g++)
            {
                var seen = await SnapshotAsync(options.Urls[g], mesh.Key, $"observer-{g}-{run}", expected);
                Add(differences, mesh.Key, $"snapshot on {options.Urls[g].Authority}", expected, seen);
            }
        });

        return differences;
    }

    private static void Add(List<RosterDifference> differences, string mesh, string source, HashSet<string> expected, IEnumerable<string> actual)
    {
        var set = actual.ToHashSet(StringComparer.Ordinal);
        var missing = expected.Except(set).Order(StringComparer.Ordinal).ToArray();
        var extra = set.Except(expected).Order(StringComparer.Ordinal).ToArray();
        if (missing.Length + extra.Length == 0) return;
        lock (differences) differences.Add(new RosterDifference(mesh, source, missing, extra));
    }

    /// <summary>Registers a newcomer and collects its snapshot: until every expected peer is in it and nothing more
    /// came for a second, or <see cref="SnapshotWait"/>.</summary>
    private static async Task<HashSet<string>> SnapshotAsync(Uri url, string mesh, string id, HashSet<string> expected)
    {
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(SnapshotWait);
        await socket.ConnectAsync(new Uri(url, $"?mesh={mesh}"), timeout.Token);
        var presence = $$$"""{"type":"presence","from":"{{{id}}}","data":{"role":"observer"}}""";
        await socket.SendAsync(Encoding.UTF8.GetBytes(presence), WebSocketMessageType.Text, true, timeout.Token);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                if (seen.IsSupersetOf(expected)) quiet.CancelAfter(TimeSpan.FromSeconds(1));
                var length = 0;
                var end = false;
                while (!end)
                {
                    var received = await socket.ReceiveAsync(buffer.AsMemory(length), quiet.Token);
                    length += received.Count;
                    end = received.EndOfMessage;
                }

                using var frame = JsonDocument.Parse(buffer.AsMemory(0, length));
                var root = frame.RootElement;
                if (root.GetProperty("type").GetString() != "presence") continue;
                var from = root.GetProperty("from").GetString()!;
                if (from.StartsWith("observer-", StringComparison.Ordinal)) continue; // an earlier roster check's newcomer
                var offline = root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object &&
                    data.TryGetProperty("status", out var status) && status.GetString() == "offline";
                if (offline) seen.Remove(from);
                else seen.Add(from);
            }
        }
        catch (OperationCanceledException)
        {
            // quiet for a second with every expected peer seen, or the wait is over: the snapshot is what came
        }

        return seen; // a cancelled receive has aborted the socket: the relay unregisters the observer at once
    }
}

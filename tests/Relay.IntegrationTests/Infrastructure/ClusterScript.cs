using System.Net;
using System.Net.Sockets;
using System.Text;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Runs <c>scripts/cluster.sh</c> (bash) from the repository, bounded in time.</summary>
internal static class ClusterScript
{
    /// <summary>The configuration this test assembly was built in: the relay executables next to it are too.</summary>
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    public static string Path => System.IO.Path.Combine(RepositoryFiles.Root, "scripts", "cluster.sh");

    /// <summary>Runs <c>bash scripts/cluster.sh args...</c>; kills it (and fails) after <paramref name="timeout"/>.</summary>
    public static Task<ChildProcess.Result> RunAsync(TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        ChildProcess.RunAsync("bash", args.Prepend(Path), timeout, RepositoryFiles.Root, environment);

    /// <summary><paramref name="count"/> consecutive ports on 127.0.0.1 that nothing listens on right now, from a
    /// range that the kernel does not hand out as ephemeral ports (so none appears meanwhile by chance).</summary>
    public static int FreePortBlock(int count, ISet<int> taken)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var first = Random.Shared.Next(12000, 28000);
            var ports = Enumerable.Range(first, count).ToArray();
            if (ports.Any(taken.Contains) || !ports.All(IsFree)) continue;
            foreach (var port in ports) taken.Add(port);
            return first;
        }
        throw new InvalidOperationException($"no block of {count} free ports found");
    }

    /// <summary>True when nothing listens on 127.0.0.1:<paramref name="port"/>.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Plain-text snippet of the state dir's logs, for assertion messages.</summary>
    public static string Logs(string clusterDir)
    {
        var logs = System.IO.Path.Combine(clusterDir, "logs");
        if (!Directory.Exists(logs)) return "(no logs)";
        var text = new StringBuilder();
        foreach (var file in Directory.GetFiles(logs).Order(StringComparer.Ordinal))
        {
            var lines = File.ReadAllLines(file);
            text.Append("--- ").AppendLine(System.IO.Path.GetFileName(file));
            foreach (var line in lines.TakeLast(40)) text.AppendLine(line);
        }
        return text.ToString();
    }
}

using System.Text.RegularExpressions;
using Relay.Gateway.Hosting;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Architecture;

/// <summary>
/// The gateway's folders keep the layers docs/architecture.md names ("Layers"): each uses only the folders listed
/// below its own, so none can sit in a cycle with another. Read from the compiled assembly, so a reference anywhere
/// (a signature, a base type, a method body, a lambda, an async method) counts.
/// </summary>
public sealed partial class GatewayLayersTests
{
    private static readonly NamespaceDependencies Gateway =
        NamespaceDependencies.Read(typeof(GatewayHost).Assembly.Location, "Relay.Gateway.");

    [Fact]
    public void Every_folder_of_the_gateway_has_its_layer()
    {
        var layered = Layers().SelectMany(layer => layer).Order(StringComparer.Ordinal);
        Assert.Equal(Gateway.Namespaces.Order(StringComparer.Ordinal), layered);
    }

    [Fact]
    public void Each_folder_uses_only_the_layers_below_its_own()
    {
        var layers = Layers();
        var layerOf = layers.SelectMany((folders, index) => folders.Select(folder => (folder, index))).ToDictionary();
        var upward = Gateway.Edges
            .Where(edge => layerOf.TryGetValue(edge.Key.From, out var from) && layerOf.TryGetValue(edge.Key.To, out var to) && to <= from)
            .Select(edge => $"{edge.Key.From} -> {edge.Key.To} ({edge.Value})")
            .Order(StringComparer.Ordinal);
        Assert.Empty(upward);
    }

    [Fact]
    public void No_folders_use_each_other_in_a_cycle() => Assert.Empty(Cycles(Gateway.Edges.Keys));

    /// <summary>The scanner itself: it must see each kind of reference, or the tests above could not fail.</summary>
    [Fact]
    public void The_scan_sees_references_of_every_kind()
    {
        var samples = NamespaceDependencies.Read(typeof(GatewayLayersTests).Assembly.Location, ScannerSamples.Prefix);
        var users = samples.Edges.Keys.Where(edge => edge.To == "Target").Select(edge => edge.From).Order(StringComparer.Ordinal);
        Assert.Equal(ScannerSamples.Users.Order(StringComparer.Ordinal), users);
        Assert.Equal([["CycleA", "CycleB"]], Cycles(samples.Edges.Keys));
    }

    /// <summary>docs/architecture.md's "Layers" list, top layer first: the backticked folder names before each
    /// numbered line's colon.</summary>
    private static List<string[]> Layers()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, "docs", "architecture.md"));
        var section = lines.SkipWhile(line => line != "## Layers").Skip(1).TakeWhile(line => !line.StartsWith("## ", StringComparison.Ordinal));
        var layers = section
            .Select(line => LayerLine().Match(line))
            .Where(match => match.Success)
            .Select(match => FolderName().Matches(match.Groups["folders"].Value).Select(folder => folder.Groups[1].Value).ToArray())
            .ToList();
        Assert.NotEmpty(layers);
        return layers;
    }

    /// <summary>Every cycle, as the sorted set of namespaces in it (strongly connected components of two or more).</summary>
    private static List<string[]> Cycles(IEnumerable<(string From, string To)> edges)
    {
        var next = edges.GroupBy(edge => edge.From).ToDictionary(group => group.Key, group => group.Select(edge => edge.To).ToArray());
        bool Reaches(string from, string to)
        {
            var seen = new HashSet<string>();
            var stack = new Stack<string>([from]);
            while (stack.TryPop(out var current))
            {
                foreach (var target in next.GetValueOrDefault(current, []))
                {
                    if (target == to) return true;
                    if (seen.Add(target)) stack.Push(target);
                }
            }
            return false;
        }
        var nodes = next.Keys.Concat(next.Values.SelectMany(targets => targets)).Distinct().ToArray();
        return [.. nodes
            .Select(node => nodes.Where(other => other == node || (Reaches(node, other) && Reaches(other, node))).Order(StringComparer.Ordinal).ToArray())
            .Where(component => component.Length > 1)
            .DistinctBy(component => string.Join(',', component))];
    }

    [GeneratedRegex(@"^\d+\. (?<folders>[^:]+):")]
    private static partial Regex LayerLine();

    [GeneratedRegex("`([A-Za-z]+)`")]
    private static partial Regex FolderName();
}

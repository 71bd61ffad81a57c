using System.Text;
using System.Text.RegularExpressions;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>README.md is short and points into docs/ and bench/results/: every relative link there must lead to a file
/// (and a heading, when it names one), and every page must be reachable from README by following links, so that
/// nothing moved out of README is lost to a reader.</summary>
public sealed partial class DocumentationLinksTests
{
    [Fact]
    public void Every_relative_link_leads_to_a_file_and_heading()
    {
        var broken = new List<string>();
        foreach (var page in Pages())
        {
            foreach (var link in Links(page))
            {
                var (target, anchor) = Resolve(page, link);
                if (!File.Exists(target) && !Directory.Exists(target))
                {
                    broken.Add($"{Relative(page)}: {link} (no such file)");
                }
                else if (anchor is not null && target.EndsWith(".md", StringComparison.Ordinal) && !Anchors(target).Contains(anchor))
                {
                    broken.Add($"{Relative(page)}: {link} (no heading #{anchor} in {Relative(target)})");
                }
            }
        }
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Every_page_of_docs_and_bench_results_is_reachable_from_the_readme()
    {
        var readme = Path.Combine(RepositoryFiles.Root, "README.md");
        var reached = new HashSet<string>(StringComparer.Ordinal) { readme };
        var queue = new Queue<string>([readme]);
        while (queue.TryDequeue(out var page))
        {
            foreach (var link in Links(page))
            {
                var (target, _) = Resolve(page, link);
                if (target.EndsWith(".md", StringComparison.Ordinal) && File.Exists(target) && reached.Add(target)) queue.Enqueue(target);
            }
        }
        var unreached = Pages().Where(p => !reached.Contains(p)).Select(Relative).ToArray();
        Assert.True(unreached.Length == 0, "not reachable from README.md: " + string.Join(", ", unreached));
    }

    /// <summary>README.md, docs/*.md and bench/results/*.md.</summary>
    private static List<string> Pages()
    {
        var root = RepositoryFiles.Root;
        var pages = new List<string> { Path.Combine(root, "README.md") };
        pages.AddRange(Directory.GetFiles(Path.Combine(root, "docs"), "*.md"));
        pages.AddRange(Directory.GetFiles(Path.Combine(root, "bench", "results"), "*.md"));
        pages.Sort(StringComparer.Ordinal);
        return pages;
    }

    /// <summary>The relative link targets of a page, outside code blocks and code spans.</summary>
    private static IEnumerable<string> Links(string page)
    {
        var text = CodeSpan().Replace(CodeBlock().Replace(File.ReadAllText(page), ""), "");
        return Link().Matches(text).Select(m => m.Groups["target"].Value)
            .Where(t => !t.Contains("://", StringComparison.Ordinal) && !t.StartsWith("mailto:", StringComparison.Ordinal));
    }

    private static (string Target, string? Anchor) Resolve(string page, string link)
    {
        var hash = link.IndexOf('#', StringComparison.Ordinal);
        var path = hash < 0 ? link : link[..hash];
        var anchor = hash < 0 ? null : link[(hash + 1)..];
        var target = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)));
        return (target.TrimEnd('/', Path.DirectorySeparatorChar), anchor);
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats
    /// numbered.</summary>
    private static HashSet<string> Anchors(string page)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var text = CodeBlock().Replace(File.ReadAllText(page), "");
        foreach (Match heading in Heading().Matches(text))
        {
            var slug = new StringBuilder();
            foreach (var c in heading.Groups["title"].Value.Trim().ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '-' or '_') slug.Append(c);
                else if (c == ' ') slug.Append('-');
            }
            var anchor = slug.ToString();
            for (var n = 1; !anchors.Add(anchor); n++) anchor = slug + "-" + n;
        }
        return anchors;
    }

    private static string Relative(string path) => Path.GetRelativePath(RepositoryFiles.Root, path);

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"`[^`\n]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"\[[^\]\n]*\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6} (?<title>.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();
}

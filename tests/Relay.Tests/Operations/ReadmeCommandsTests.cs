using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>The README's first lines are the two commands a newcomer runs; CI must run exactly the second.</summary>
public class ReadmeCommandsTests
{
    [Fact]
    public void Ci_runs_the_test_command_the_readme_gives()
    {
        var readme = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, "README.md"));
        var firstBlock = readme.SkipWhile(l => !l.StartsWith("```", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => !l.StartsWith("```", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, firstBlock.Length);
        Assert.StartsWith("dotnet run -c Release --project src/Relay.Silo", firstBlock[0], StringComparison.Ordinal);
        var testCommand = firstBlock[1].Split('#')[0].Trim();
        Assert.Equal("bash scripts/test.sh", testCommand);

        var ci = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, ".ci", "run"));
        Assert.Contains(ci, line => line.TrimStart().StartsWith(testCommand, StringComparison.Ordinal));
    }
}

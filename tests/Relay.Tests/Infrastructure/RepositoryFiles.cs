namespace Relay.Tests.Infrastructure;

/// <summary>Files of the repository the tests run from (scripts, docs, compose files).</summary>
internal static class RepositoryFiles
{
    /// <summary>The repository's root: the first folder above the test binaries that holds Relay.slnx.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Relay.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Relay.slnx not found above " + AppContext.BaseDirectory);
    }
}

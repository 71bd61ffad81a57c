using System.Diagnostics;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Operations;

/// <summary>
/// Issue 7: the dashboard in a real browser. Debian's Chromium, driven by playwright-core from
/// <c>tests/dashboard/dashboard-check.mjs</c> (both prepared by <c>scripts/test.sh</c>), opens the page of a real relay while
/// two WebSocket peers are online, sees both, and sees one vanish (and show among the disconnects) when it closes.
/// </summary>
public sealed class DashboardBrowserTests : EndToEndTest
{
    private static readonly string ScriptFolder = Path.Combine(RepositoryFiles.Root, "tests", "dashboard");

    // Every browser step waits at most this long; the whole check at most four times that.
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Chromium_sees_both_peers_then_the_one_that_disconnects_vanish()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is needed (scripts/test.sh installs it: apt-get install chromium)");
        Assert.True(Directory.Exists(Path.Combine(ScriptFolder, "node_modules", "playwright-core")),
            "playwright-core is needed (scripts/test.sh prepares it: npm ci in tests/dashboard)");

        // Peers stay registered however long the browser takes to start on a loaded machine.
        await StartRelayAsync("Relay:StaleTimeout=00:05:00");
        var staying = await JoinAsync(TestPeer.NewId("staying"), new { name = "Staying" });
        var leaving = await JoinAsync(TestPeer.NewId("leaving"), new { name = "Leaving" });

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = ScriptFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "dashboard-check.mjs", new Uri(Relay.HttpBase, "dashboard").ToString(), Mesh, staying.Id, leaving.Id })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DASHBOARD_WAIT_MS"] = ((int)StepTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stderr = node.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(StepTimeout * 5);
        try
        {
            Assert.Equal("visible", await NextLineAsync(node, deadline.Token));
            await leaving.CloseAsync();
            Assert.Equal("gone", await NextLineAsync(node, deadline.Token));
            await node.WaitForExitAsync(deadline.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or Xunit.Sdk.XunitException)
        {
            if (!node.HasExited) node.Kill(entireProcessTree: true);
            throw new InvalidOperationException("the browser check failed: " + await stderr, ex);
        }
        Assert.True(node.ExitCode == 0, "the browser check failed: " + await stderr);
    }

    private static async Task<string?> NextLineAsync(Process node, CancellationToken cancellationToken) =>
        (await node.StandardOutput.ReadLineAsync(cancellationToken))?.Trim();
}

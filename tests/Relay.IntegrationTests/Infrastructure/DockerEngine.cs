using System.ComponentModel;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Whether this machine's Docker engine can run the compose tests.</summary>
internal static class DockerEngine
{
    private static readonly Lazy<string?> Reason = new(Probe);

    /// <summary>Why no Docker engine can be used here, or null when one answers.</summary>
    public static string? Unavailable => Reason.Value;

    /// <summary>True under CI (CI=true, as CI services and .ci/run set it), where a missing engine is a failure.</summary>
    public static bool UnderCi =>
        Environment.GetEnvironmentVariable("CI") is { } ci && (ci == "1" || ci.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static string? Probe()
    {
        try
        {
            var version = ChildProcess.RunAsync("docker", ["version", "--format", "{{.Server.Version}}"], TimeSpan.FromSeconds(30))
                .GetAwaiter().GetResult();
            return version.ExitCode == 0
                ? null
                : $"no Docker engine answers (docker version: {version.StandardError.Trim().Split('\n')[^1]})";
        }
        catch (Win32Exception)
        {
            return "docker is not installed";
        }
        catch (TimeoutException)
        {
            return "the Docker engine did not answer within 30 s";
        }
    }
}

using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// A test that needs a Docker engine. Where none answers it is skipped, with the reason, except under CI: there it
/// runs and fails, so that a CI machine without Docker cannot pass it silently (scripts/test.sh installs docker.io and
/// starts dockerd).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (!DockerEngine.UnderCi && DockerEngine.Unavailable is { } reason)
        {
            Skip = $"{reason}; Docker is needed (Debian: apt-get install docker.io, then start dockerd)";
        }
    }
}

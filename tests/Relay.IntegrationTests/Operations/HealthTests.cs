using System.Net;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Operations;

/// <summary>Issue 7: <c>/healthz/live</c> (process up) and <c>/healthz/ready</c> (joined, accepting sockets, not
/// draining); <c>/healthz</c> stays the readiness check.</summary>
public sealed class HealthTests : EndToEndTest
{
    [Theory]
    [InlineData("healthz/live")]
    [InlineData("healthz/ready")]
    [InlineData("healthz")]
    public async Task Health_endpoints_answer_200_on_a_started_relay(string path)
    {
        await StartRelayAsync();
        using var response = await Relay.Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_answers_503_while_draining_and_live_stays_200()
    {
        var (http, stopping) = await BeginLastingDrainAsync();
        using var _ = http;
        using (var ready = await http.GetAsync(new Uri("healthz/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());
        }
        using (var live = await http.GetAsync(new Uri("healthz/live", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
        await stopping;
    }
}

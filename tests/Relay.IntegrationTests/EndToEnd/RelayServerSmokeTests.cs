using System.Net;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.EndToEnd;

public class RelayServerSmokeTests
{
    [Fact]
    public async Task Ping_answers_the_AgentCore_health_contract()
    {
        await using var relay = await RelayServer.StartAsync();
        using var response = await relay.Http.GetAsync(new Uri("ping", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        Assert.True(body.RootElement.GetProperty("time_of_last_update").GetInt64() > 1_700_000_000);
    }
}

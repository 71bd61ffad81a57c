using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Dashboard;
using Relay.Gateway.Hosting;
using Relay.Grains;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>Issue 7: <c>--help</c> lists every setting the relay binds, generated from the options classes.</summary>
public sealed class HelpTests
{
    private static string Help(params string[] args)
    {
        using var output = new StringWriter();
        Assert.True(RelayHelp.TryWrite(args, output, "Relay.Silo"));
        return output.ToString();
    }

    public static TheoryData<string, Type> OptionsClasses => new()
    {
        { "Relay", typeof(RelayOptions) },
        { "Relay", typeof(LivenessOptions) },
        { "Cluster", typeof(RelayClusterOptions) },
        { "Relay:Auth", typeof(RelayAuthOptions) },
        { "Relay:Dashboard", typeof(DashboardOptions) },
        { "Relay:Auth:customJWTAuthorizer", typeof(CustomJwtAuthorizerOptions) },
    };

    [Theory]
    [MemberData(nameof(OptionsClasses))]
    public void Help_lists_every_public_settable_property(string section, Type options)
    {
        var lines = Help("--help").Split('\n').Select(l => l.Trim()).ToArray();
        var properties = options.GetProperties().Where(p => p.SetMethod is { IsPublic: true } && p.PropertyType != typeof(CustomJwtAuthorizerOptions)).ToArray();
        Assert.NotEmpty(properties);
        foreach (var property in properties)
        {
            var key = section + ":" + property.Name;
            Assert.Contains(lines, l => l.StartsWith(key + " ", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public void Every_setting_has_a_description_and_its_default()
    {
        var rows = RelayHelp.Rows();
        Assert.All(rows, row => Assert.NotEqual(RelayHelp.Undescribed, row.Description));
        var help = Help("-h");
        Assert.Contains(rows, r => r.Key == "Relay:StaleTimeout" && r.Default == "00:00:30");
        Assert.Contains(rows, r => r.Key == "Relay:SendQueueBytes" && r.Default == "4194304");
        Assert.Contains(rows, r => r.Key == "Cluster:Role" && r.Default == "Combined");
        Assert.Contains("[Relay:Auth]", help, StringComparison.Ordinal);
        Assert.Contains("[Cluster]", help, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_help_nothing_is_written()
    {
        using var output = new StringWriter();
        Assert.False(RelayHelp.TryWrite(["--urls", "http://127.0.0.1:0"], output, "Relay.Silo"));
        Assert.Empty(output.ToString());
    }
}

using Relay.Gateway.Authentication;
using Relay.Gateway.Configuration;
using Relay.Gateway.Dashboard;
using Relay.Gateway.Hosting;
using Relay.Grains;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>Issue 7 and 13: <c>--help</c> lists every setting the relay binds, with its default and the description
/// of its options property (the same one docs/configuration.md prints).</summary>
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
    public void Every_setting_is_listed_with_its_default_and_its_description()
    {
        var lines = Help("-h").Split('\n').Select(l => l.Trim()).ToArray();
        foreach (var setting in RelayHelp.Settings())
        {
            Assert.NotEqual(RelayHelp.Undescribed, setting.Description);
            var line = Assert.Single(lines, l => l.StartsWith(setting.Key + " ", StringComparison.Ordinal));
            var rest = line[setting.Key.Length..].TrimStart();
            Assert.StartsWith(RelayHelp.FormatDefault(setting.Default) + " ", rest, StringComparison.Ordinal);
            Assert.EndsWith(setting.Description.Replace("`", "", StringComparison.Ordinal), line, StringComparison.Ordinal);
        }
        Assert.Contains(lines, l => l.StartsWith("Relay:StaleTimeout", StringComparison.Ordinal) && l.Contains(" 00:00:30 ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Cluster:Role", StringComparison.Ordinal) && l.Contains(" Combined ", StringComparison.Ordinal));
        Assert.Contains("[Relay:Auth]", lines);
        Assert.Contains("[Cluster]", lines);
    }

    [Fact]
    public void The_command_line_options_are_listed()
    {
        var lines = Help("--help").Split('\n').Select(l => l.Trim()).ToArray();
        foreach (var option in RelayHelp.CommandLineOptions)
        {
            Assert.Contains(lines, l => l.StartsWith(option.Usage + " ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Without_help_nothing_is_written()
    {
        using var output = new StringWriter();
        Assert.False(RelayHelp.TryWrite(["--urls", "http://127.0.0.1:0"], output, "Relay.Silo"));
        Assert.Empty(output.ToString());
    }
}

using System.Collections;
using System.Globalization;
using System.Reflection;
using Relay.Gateway.Configuration;
using Relay.Gateway.Hosting;
using Relay.Grains;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>Issue 7: docs/configuration.md's reference is checked against the options classes by reflection, so
/// the documentation cannot drift from what the relay binds: every public settable property of every options class
/// (a class with a <c>SectionName</c>, nested options objects included) has a row with its key, environment variable
/// and default, and every row names a real setting.</summary>
public sealed class ConfigurationReferenceTests
{
    /// <summary>A documented setting: its key, environment variable and default as the reference spells them.</summary>
    private sealed record Row(string Key, string Environment, string Default);

    /// <summary>A setting the options classes bind: its key, whether it is a list, and its default.</summary>
    private sealed record Setting(string Key, bool IsList, object? Default);

    private static readonly Assembly[] RelayAssemblies = [typeof(RelayOptions).Assembly, typeof(LivenessOptions).Assembly];

    [Fact]
    public void Every_setting_of_every_options_class_is_documented_with_its_environment_variable_and_default()
    {
        var rows = ReadmeRows();
        var settings = Settings();
        Assert.True(settings.Count >= 30, $"only {settings.Count} settings found: the discovery of options classes broke");
        foreach (var setting in settings)
        {
            var row = rows.SingleOrDefault(r => string.Equals(r.Key, setting.Key, StringComparison.OrdinalIgnoreCase));
            Assert.True(row is not null, $"docs/configuration.md's reference has no row for {setting.Key}");
            var environment = setting.Key.Replace(":", "__", StringComparison.Ordinal) + (setting.IsList ? "__0" : "");
            Assert.True(string.Equals(environment, row.Environment, StringComparison.OrdinalIgnoreCase),
                $"{setting.Key}: environment variable documented as '{row.Environment}', expected '{environment}'");
            var expected = Format(setting.Default);
            Assert.True(row.Default.StartsWith(expected, StringComparison.Ordinal),
                $"{setting.Key}: default documented as '{row.Default}', the options class says '{expected}'");
        }
    }

    [Fact]
    public void Every_row_names_a_setting_or_a_command_line_option()
    {
        var keys = Settings().Select(s => s.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var row in ReadmeRows())
        {
            Assert.True(keys.Contains(row.Key) || row.Key.StartsWith("--", StringComparison.Ordinal),
                $"docs/configuration.md documents {row.Key}, which no options class binds");
        }
    }

    [Fact]
    public void The_options_classes_found_are_the_ones_help_lists()
    {
        var found = OptionsClasses().Select(c => c.Type).ToHashSet();
        var help = RelayHelp.Sections.SelectMany(s => s.OptionsTypes).ToHashSet();
        Assert.Equal(help.OrderBy(t => t.Name), found.OrderBy(t => t.Name));
    }

    private static IEnumerable<(Type Type, string Section)> OptionsClasses() =>
        RelayAssemblies.SelectMany(a => a.GetTypes())
            .Select(t => (Type: t, Field: t.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)))
            .Where(x => x.Field is { IsLiteral: true } && x.Field.FieldType == typeof(string) && x.Type.Name.EndsWith("Options", StringComparison.Ordinal))
            .Select(x => (x.Type, (string)x.Field!.GetRawConstantValue()!));

    private static List<Setting> Settings()
    {
        var settings = new List<Setting>();
        foreach (var (type, section) in OptionsClasses()) AddSettings(settings, section, type);
        return settings;
    }

    private static void AddSettings(List<Setting> settings, string path, Type type)
    {
        var instance = Activator.CreateInstance(type);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var key = path + ":" + property.Name;
            var propertyType = property.PropertyType;
            if (propertyType.IsClass && propertyType != typeof(string) && !propertyType.IsArray)
            {
                AddSettings(settings, key, propertyType); // a nested options object: its properties are the settings
                continue;
            }
            settings.Add(new Setting(key, propertyType.IsArray, property.GetValue(instance)));
        }
    }

    /// <summary>A default as the reference writes it (without backticks).</summary>
    private static string Format(object? value) => value switch
    {
        null => "unset",
        string { Length: 0 } => "empty",
        string s => s,
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IEnumerable list when !list.Cast<object>().Any() => "empty",
        IEnumerable list => string.Join(", ", list.Cast<object>().Select(Format)),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    /// <summary>The rows of the table under "## Reference" (up to the next section).</summary>
    private static List<Row> ReadmeRows()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, "docs", "configuration.md"));
        var rows = new List<Row>();
        var inSection = false;
        foreach (var line in lines)
        {
            if (line.StartsWith("## ", StringComparison.Ordinal)) inSection = line == "## Reference";
            if (!inSection || !line.StartsWith("| `", StringComparison.Ordinal)) continue;
            var cells = line.Trim('|').Split('|').Select(c => c.Trim().Replace("`", "", StringComparison.Ordinal)).ToArray();
            if (cells.Length < 4) continue;
            rows.Add(new Row(cells[0], cells[1], cells[2]));
        }
        Assert.NotEmpty(rows);
        return rows;
    }
}

using System.Collections;
using System.Globalization;
using System.Reflection;
using Relay.Gateway.Configuration;
using Relay.Gateway.Hosting;
using Relay.Grains;
using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>Issue 7 and 13: each setting is described once, by a <c>[Description]</c> on its options property, and
/// docs/configuration.md's reference is generated from those (between its markers), so the doc, <c>--help</c> and
/// what the relay binds cannot drift apart. The rows are also checked against options classes found independently
/// (a class with a <c>SectionName</c>, nested options objects included).</summary>
public sealed class ConfigurationReferenceTests
{
    private const string Begin = "<!-- BEGIN settings";
    private const string End = "<!-- END settings -->";

    /// <summary>Set to 1 to write the generated reference into docs/configuration.md instead of failing.</summary>
    private const string UpdateVariable = "RELAY_UPDATE_DOCS";

    /// <summary>A documented setting: its key, environment variable and default as the reference spells them.</summary>
    private sealed record Row(string Key, string Environment, string Default);

    /// <summary>A setting the options classes bind: its key, whether it is a list, and its default.</summary>
    private sealed record Setting(string Key, bool IsList, object? Default);

    private static readonly Assembly[] RelayAssemblies = [typeof(RelayOptions).Assembly, typeof(LivenessOptions).Assembly];

    private static string DocPath => Path.Combine(RepositoryFiles.Root, "docs", "configuration.md");

    [Fact]
    public void The_reference_is_the_one_generated_from_the_descriptions()
    {
        var doc = File.ReadAllText(DocPath).ReplaceLineEndings("\n");
        var begin = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"docs/configuration.md lacks the markers '{Begin} ...' and '{End}'");
        var contentStart = doc.IndexOf('\n', begin) + 1;
        var actual = doc[contentStart..end];
        var expected = ConfigurationReference.Markdown(RelayHelp.Settings(), RelayHelp.CommandLineOptions);
        if (actual == expected) return;

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(DocPath, doc[..contentStart] + expected + doc[end..]);
            return;
        }
        var actualLines = actual.Split('\n');
        var expectedLines = expected.Split('\n');
        var first = Enumerable.Range(0, Math.Max(actualLines.Length, expectedLines.Length))
            .First(i => i >= actualLines.Length || i >= expectedLines.Length || actualLines[i] != expectedLines[i]);
        Assert.Fail(
            "docs/configuration.md's reference is not the one the options classes' [Description]s generate. Describe settings "
            + "on their options properties, not in the doc, then regenerate the table with\n  "
            + $"{UpdateVariable}=1 dotnet test tests/Relay.Tests -c Release --filter FullyQualifiedName~ConfigurationReferenceTests\n"
            + $"First difference, line {first + 1} of the table:\n  doc:       {Line(actualLines, first)}\n  generated: {Line(expectedLines, first)}");
    }

    [Fact]
    public void Every_setting_has_a_description_that_fits_a_table_row()
    {
        var settings = RelayHelp.Settings();
        Assert.All(settings, s => Assert.True(s.Description != RelayHelp.Undescribed,
            $"{s.Key} has no [Description] on its options property"));
        Assert.All(settings, s => Assert.True(s.Description.IndexOfAny(['|', '\n', '\r']) < 0,
            $"{s.Key}: a description must be one line without '|' (it is a cell of the reference table)"));
    }

    [Fact]
    public void Two_options_classes_of_one_section_never_declare_the_same_key()
    {
        var duplicates = Settings().GroupBy(s => s.Key, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(duplicates.Length == 0, "bound by two options classes: " + string.Join(", ", duplicates));
    }

    [Fact]
    public void Every_setting_of_every_options_class_is_documented_with_its_environment_variable_and_default()
    {
        var rows = ReferenceRows();
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
        foreach (var row in ReferenceRows())
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

    private static string Line(string[] lines, int index) => index < lines.Length ? lines[index] : "(none)";

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
    private static List<Row> ReferenceRows()
    {
        var lines = File.ReadAllLines(DocPath);
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

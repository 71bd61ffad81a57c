using System.Collections;
using System.Text;
using Relay.Gateway.Hosting;

namespace Relay.Tests.Operations;

/// <summary>docs/configuration.md's reference table, as the options classes and <see cref="RelayHelp"/> describe
/// it: one row per command-line option, then one per setting in <c>--help</c>'s order.</summary>
internal static class ConfigurationReference
{
    public static string Markdown(IEnumerable<RelayHelp.Setting> settings, IEnumerable<RelayHelp.CommandLineOption> commandLine)
    {
        var table = new StringBuilder();
        table.Append("| key | environment variable | default | meaning |\n");
        table.Append("|---|---|---|---|\n");
        foreach (var option in commandLine)
        {
            table.Append($"| {Code(option.Usage)} | {Code(option.Environment)} | {Code(option.Default)} | {option.Description} |\n");
        }
        foreach (var setting in settings)
        {
            table.Append($"| {Code(setting.Key)} | {Code(setting.Environment)} | {Default(setting.Default)} | {setting.Description} |\n");
        }
        return table.ToString();
    }

    private static string Code(string? text) => string.IsNullOrEmpty(text) ? "" : "`" + text + "`";

    /// <summary><c>unset</c>, <c>empty</c>, or the value as code (each element of a list on its own).</summary>
    private static string Default(object? value) => value switch
    {
        null => "unset",
        string { Length: 0 } => "empty",
        string s => Code(s),
        IEnumerable list when !list.Cast<object>().Any() => "empty",
        IEnumerable list => string.Join(", ", list.Cast<object>().Select(e => Code(RelayHelp.FormatDefault(e)))),
        _ => Code(RelayHelp.FormatDefault(value)),
    };
}

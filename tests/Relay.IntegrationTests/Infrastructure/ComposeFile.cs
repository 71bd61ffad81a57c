namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// Reads the part of docker-compose.yml the tests compare with scripts/cluster.sh: each service's environment
/// (list form <c>- KEY=VALUE</c> or map form <c>KEY: VALUE</c>), ports and command. A line-based reader for the
/// block style the file uses (two-space indentation, no flow mappings for these keys), so the tests need no YAML
/// package; anything else in the file (anchors, health checks) is skipped.
/// </summary>
internal sealed class ComposeFile
{
    public sealed class Service(string name)
    {
        public string Name { get; } = name;

        public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

        public List<string> Ports { get; } = [];

        public string? Image { get; set; }
    }

    public Dictionary<string, Service> Services { get; } = new(StringComparer.Ordinal);

    public static ComposeFile Parse(string text)
    {
        var compose = new ComposeFile();
        var inServices = false;
        Service? service = null;
        string? block = null; // the service key whose nested lines we read: environment or ports
        foreach (var raw in text.Split('\n'))
        {
            var line = StripComment(raw.TrimEnd('\r'));
            if (line.Trim().Length == 0) continue;
            var indent = line.Length - line.TrimStart(' ').Length;
            var content = line.Trim();

            if (indent == 0)
            {
                inServices = content == "services:";
                service = null;
                continue;
            }
            if (!inServices) continue;
            if (indent == 2)
            {
                service = new Service(content.TrimEnd(':'));
                compose.Services[service.Name] = service;
                block = null;
                continue;
            }
            if (service is null) continue;
            if (indent == 4)
            {
                var (key, value) = SplitKey(content);
                block = value.Length == 0 ? key : null;
                if (key == "image") service.Image = Unquote(value);
                continue;
            }
            if (indent < 6 || block is null) continue;
            var item = content.StartsWith("- ", StringComparison.Ordinal) ? Unquote(content[2..].Trim()) : null;
            switch (block)
            {
                case "environment" when item is not null:
                    var eq = item.IndexOf('=', StringComparison.Ordinal);
                    if (eq > 0) service.Environment[item[..eq]] = item[(eq + 1)..];
                    break;
                case "environment":
                    var (name, setting) = SplitKey(content);
                    service.Environment[name] = Unquote(setting);
                    break;
                case "ports" when item is not null:
                    service.Ports.Add(item);
                    break;
            }
        }
        return compose;
    }

    private static (string Key, string Value) SplitKey(string content)
    {
        var colon = content.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (content, "") : (content[..colon].Trim(), content[(colon + 1)..].Trim());
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0] ? value[1..^1] : value;

    private static string StripComment(string line)
    {
        // A '#' starts a comment at the line's start or after a space, outside quotes.
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is not null)
            {
                if (c == quote) quote = null;
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || line[i - 1] == ' '))
            {
                return line[..i];
            }
        }
        return line;
    }
}

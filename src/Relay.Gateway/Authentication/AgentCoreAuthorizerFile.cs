using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Relay.Gateway.Authentication;

/// <summary>
/// <c>--authorizer-config PATH</c>: a JSON file of exactly the AgentCore form
/// <c>{"authorizerConfiguration":{"customJWTAuthorizer":{"discoveryUrl":"...","allowedClients":[...],"allowedAudience":[...]}}}</c>,
/// mapped onto <c>Relay:Auth:customJWTAuthorizer</c>. Anything else in the file (an unknown property such as
/// <c>allowedScopes</c>, a value of the wrong type) stops the relay at start-up rather than being ignored: an
/// authorizer rule the relay would silently skip is a hole.
/// </summary>
public static class AgentCoreAuthorizerFile
{
    /// <summary>The configuration key the command-line switch <c>--authorizer-config</c> sets.</summary>
    public const string ConfigurationKey = "authorizer-config";

    private const string Target = RelayAuthOptions.SectionName + ":" + nameof(RelayAuthOptions.CustomJwtAuthorizer);

    /// <summary>When <see cref="ConfigurationKey"/> is set, adds the file's authorizer to <paramref name="configuration"/>
    /// (above every other source). The authorizer must then be configured nowhere else: configuration sources merge
    /// arrays by index, so two of them would silently mix their client lists.</summary>
    public static IConfigurationBuilder AddAgentCoreAuthorizerFile(this IConfigurationManager configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration[ConfigurationKey] is not { Length: > 0 } path) return configuration;
        if (configuration.GetSection(Target).GetChildren().Any())
        {
            throw new InvalidOperationException(
                $"--{ConfigurationKey} and {RelayAuthOptions.SectionName}:customJWTAuthorizer both configure the authorizer; use one of them.");
        }
        return configuration.AddInMemoryCollection(Read(path));
    }

    /// <summary>The file's settings as configuration keys under <c>Relay:Auth:CustomJwtAuthorizer</c>.</summary>
    public static Dictionary<string, string?> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"--{ConfigurationKey}: cannot read \"{path}\": {ex.Message}", ex);
        }
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return Map(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"--{ConfigurationKey}: \"{path}\" is not valid JSON: {ex.Message}", ex);
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"--{ConfigurationKey}: \"{path}\": {ex.Message}", ex);
        }
    }

    private static Dictionary<string, string?> Map(JsonElement root)
    {
        var configuration = SingleObject(root, "authorizerConfiguration", "the file");
        var authorizer = SingleObject(configuration, "customJWTAuthorizer", "authorizerConfiguration");
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in authorizer.EnumerateObject())
        {
            switch (property.Name)
            {
                case "discoveryUrl":
                    if (property.Value.ValueKind != JsonValueKind.String) throw Wrong("customJWTAuthorizer.discoveryUrl must be a string");
                    settings[$"{Target}:{nameof(CustomJwtAuthorizerOptions.DiscoveryUrl)}"] = property.Value.GetString();
                    break;
                case "allowedClients":
                    AddList(settings, property.Value, nameof(CustomJwtAuthorizerOptions.AllowedClients), "allowedClients");
                    break;
                case "allowedAudience":
                    AddList(settings, property.Value, nameof(CustomJwtAuthorizerOptions.AllowedAudience), "allowedAudience");
                    break;
                default:
                    throw Wrong($"customJWTAuthorizer.{property.Name} is not supported by Relay (supported: discoveryUrl, allowedClients, allowedAudience)");
            }
        }
        if (!settings.ContainsKey($"{Target}:{nameof(CustomJwtAuthorizerOptions.DiscoveryUrl)}"))
        {
            throw Wrong("customJWTAuthorizer.discoveryUrl is missing");
        }
        return settings;
    }

    private static JsonElement SingleObject(JsonElement parent, string name, string where)
    {
        if (parent.ValueKind != JsonValueKind.Object) throw Wrong($"{where} must be a JSON object");
        JsonElement? found = null;
        foreach (var property in parent.EnumerateObject())
        {
            if (property.Name != name) throw Wrong($"{where} may only contain \"{name}\", not \"{property.Name}\"");
            found = property.Value;
        }
        if (found is not { ValueKind: JsonValueKind.Object } value) throw Wrong($"{where} must contain the object \"{name}\"");
        return value;
    }

    private static void AddList(Dictionary<string, string?> settings, JsonElement list, string key, string name)
    {
        if (list.ValueKind != JsonValueKind.Array) throw Wrong($"customJWTAuthorizer.{name} must be an array of strings");
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw Wrong($"customJWTAuthorizer.{name} must be an array of strings");
            settings[string.Create(CultureInfo.InvariantCulture, $"{Target}:{key}:{index++}")] = item.GetString();
        }
    }

    private static FormatException Wrong(string message) => new(message);
}

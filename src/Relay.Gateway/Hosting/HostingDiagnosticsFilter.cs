using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Hosting;

/// <summary>
/// Holds ASP.NET Core's hosting diagnostics category (its request lines carry full URLs, credentials included) at
/// <see cref="RelayHostDefaults.HostingDiagnosticsLevel"/> for every logging provider, whatever the configuration says.
/// </summary>
/// <remarks>
/// A rule for a category alone is not enough: a provider-scoped rule (<c>Logging:Console:LogLevel:Default</c>) beats any
/// rule without a provider, however specific its category. So after every (re)build of the filter options, this adds
/// one rule for the category per provider name any rule mentions, and one without a provider: each is the most
/// specific rule for its provider, and being added last it wins ties with a configured rule of the same category.
/// </remarks>
internal sealed class HostingDiagnosticsFilter(IConfiguration configuration) : IPostConfigureOptions<LoggerFilterOptions>
{
    public void PostConfigure(string? name, LoggerFilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var level = RelayHostDefaults.HostingDiagnosticsLevel(configuration);
        var providers = options.Rules.Select(rule => rule.ProviderName).Where(provider => provider is not null).Distinct(StringComparer.Ordinal).ToList();
        options.Rules.Add(new LoggerFilterRule(null, RelayHostDefaults.HostingDiagnosticsCategory, level, null));
        foreach (var provider in providers)
        {
            options.Rules.Add(new LoggerFilterRule(provider, RelayHostDefaults.HostingDiagnosticsCategory, level, null));
        }
    }
}

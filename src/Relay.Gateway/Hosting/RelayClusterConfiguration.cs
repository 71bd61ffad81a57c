using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Hosting;

/// <summary>Reads <see cref="RelayClusterOptions"/>. Orleans is configured while the host is being built, before
/// <c>ValidateOnStart</c> would run, so the options are bound and validated right away (same validator); they are
/// also registered as ordinary options for the services that want them.</summary>
public static class RelayClusterConfiguration
{
    /// <summary>Binds and validates the "Cluster" section; throws <see cref="OptionsValidationException"/> with
    /// every problem when it is not valid.</summary>
    public static RelayClusterOptions Read(IConfiguration configuration)
    {
        var options = new RelayClusterOptions();
        configuration.GetSection(RelayClusterOptions.SectionName).Bind(options);
        var result = new RelayClusterOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(RelayClusterOptions), result.Failures);
        }
        return options;
    }

    /// <summary>Registers <see cref="RelayClusterOptions"/> (bound, validated at start) for injection.</summary>
    public static IServiceCollection AddRelayClusterOptions(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(IValidateOptions<RelayClusterOptions>))) return services;
        services.AddOptions<RelayClusterOptions>().Bind(configuration.GetSection(RelayClusterOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RelayClusterOptions>, RelayClusterOptionsValidator>();
        return services;
    }

    /// <summary>The address this silo advertises: <see cref="RelayClusterOptions.AdvertisedIPAddress"/> itself, or
    /// the first IPv4 (else any) address its host name resolves to.</summary>
    public static IPAddress ResolveAdvertisedAddress(RelayClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (IPAddress.TryParse(options.AdvertisedIPAddress, out var address)) return address;
        var addresses = Dns.GetHostAddresses(options.AdvertisedIPAddress);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"Cluster:AdvertisedIPAddress '{options.AdvertisedIPAddress}' resolves to no address.");
    }
}

/// <summary>Start-up validation of <see cref="RelayClusterOptions"/> (data annotations, generated at compile time).</summary>
[OptionsValidator]
internal sealed partial class RelayClusterOptionsValidator : IValidateOptions<RelayClusterOptions>;

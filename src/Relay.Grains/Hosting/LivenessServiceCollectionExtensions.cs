using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Relay.Grains;

public static class LivenessServiceCollectionExtensions
{
    /// <summary>Binds and validates <see cref="LivenessOptions"/> from the "Relay" section (idempotent: gateway and
    /// silo both call it in the single-process mode).</summary>
    public static IServiceCollection AddRelayLiveness(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(IValidateOptions<LivenessOptions>))) return services;
        services.AddOptions<LivenessOptions>().Bind(configuration.GetSection(LivenessOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LivenessOptions>, LivenessOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>The relay runs as one process (one silo, its gateway beside it, in-memory providers): no lease
    /// backstop (<see cref="LivenessOptions.LeaseBackstop"/>); the gateway alone decides when a peer leaves.</summary>
    public static IServiceCollection UseSingleProcessLiveness(this IServiceCollection services) =>
        services.PostConfigure<LivenessOptions>(o => o.LeaseBackstop = false);
}

/// <summary>Start-up validation of <see cref="LivenessOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class LivenessOptionsValidator : IValidateOptions<LivenessOptions>;

using Microsoft.Extensions.Options;

namespace Relay.Gateway.Configuration;

/// <summary>Start-up validation of <see cref="RelayOptions"/> (data annotations, generated at compile time).</summary>
[OptionsValidator]
internal sealed partial class RelayOptionsValidator : IValidateOptions<RelayOptions>;

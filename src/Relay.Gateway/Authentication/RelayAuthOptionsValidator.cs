using Microsoft.Extensions.Options;

namespace Relay.Gateway.Authentication;

/// <summary>Start-up validation of <see cref="RelayAuthOptions"/> (data annotations, nested members and the
/// cross-field rules of <see cref="RelayAuthOptions.Validate"/>, generated at compile time).</summary>
[OptionsValidator]
internal sealed partial class RelayAuthOptionsValidator : IValidateOptions<RelayAuthOptions>;

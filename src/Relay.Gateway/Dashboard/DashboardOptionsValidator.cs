using Microsoft.Extensions.Options;

namespace Relay.Gateway.Dashboard;

/// <summary>Start-up validation of <see cref="DashboardOptions"/> (data annotations, generated at compile time).</summary>
[OptionsValidator]
internal sealed partial class DashboardOptionsValidator : IValidateOptions<DashboardOptions>;

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Connections;

/// <summary>Start-up check that a drain can finish before the host gives up on stopping: the spread closes
/// (<see cref="RelayOptions.DrainWindow"/>) plus the time the last clients get to answer their close frames must fit
/// the host's shutdown timeout. Otherwise the host would cancel the drain half way and the rest would be aborted.</summary>
internal sealed class DrainWindowValidator(IOptions<HostOptions> host) : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var shutdown = host.Value.ShutdownTimeout;
        var needed = options.DrainWindow + ConnectionDrainer.CloseTimeout;
        return needed <= shutdown
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Relay:DrainWindow ({options.DrainWindow}) plus {ConnectionDrainer.CloseTimeout.TotalSeconds} s for the close handshakes " +
                $"exceeds the host's shutdown timeout ({shutdown}); shorten the window or raise shutdownTimeoutSeconds.");
    }
}

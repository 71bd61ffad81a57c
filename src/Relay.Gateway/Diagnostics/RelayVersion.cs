using System.Reflection;

namespace Relay.Gateway.Diagnostics;

/// <summary>The relay's version, as capabilities responses report it.</summary>
internal static class RelayVersion
{
    public static readonly string Value =
        typeof(RelayVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";
}

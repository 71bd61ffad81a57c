using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Relay.Gateway.Configuration;

namespace Relay.Gateway.Routing;

/// <summary>The frame types subject to echo suppression (<see cref="RelayOptions.EchoSuppressedTypes"/>).</summary>
internal sealed class EchoTypes(IOptions<RelayOptions> options)
{
    private readonly FrozenSet<string> _types = options.Value.EchoWindow > TimeSpan.Zero
        ? options.Value.EchoSuppressedTypes.ToFrozenSet(StringComparer.Ordinal)
        : FrozenSet<string>.Empty;

    public bool Enabled => _types.Count > 0;

    public bool IsSuppressed(string type) => _types.Contains(type);

    /// <summary><see cref="IsSuppressed"/> as one delegate for the process: a method group converted at each call
    /// allocates a new delegate, and the parser takes one per frame.</summary>
    public Func<string, bool> Check => _check ??= IsSuppressed;

    private Func<string, bool>? _check;
}

namespace Relay.Gateway.Connections;

/// <summary>Whether this node is draining (shutting down): <c>/ping</c> then answers <c>HealthyBusy</c>, as the
/// AgentCore health contract expects, so no new work is routed here.</summary>
public sealed class DrainState
{
    private volatile bool _draining;

    public bool IsDraining => _draining;

    internal void Begin() => _draining = true;
}

using Microsoft.Extensions.Options;
using Relay.Grains.Contracts;

namespace Relay.Grains.Gateways;

/// <inheritdoc cref="IGatewayGrain"/>
internal sealed class GatewayGrain(
    [PersistentState("gateway", GatewayStreams.Storage)] IPersistentState<GatewayState> state,
    IOptions<LivenessOptions> options,
    TimeProvider time) : Grain, IGatewayGrain
{
    private readonly TimeSpan _silence = options.Value.GatewaySilence;

    // Timed by this grain's clock, when the heartbeat arrived: the gateway's clock may differ from every silo's.
    private long? _lastHeartbeat;

    public async Task Register(IGatewayInbox inbox)
    {
        var id = inbox.GetGrainId().ToString();
        if (state.State.Inbox == id) return;
        state.State.Inbox = id;
        await state.WriteStateAsync();
    }

    public Task<IGatewayInbox?> GetInbox() =>
        Task.FromResult(state.State.Inbox is { } id ? GrainFactory.GetGrain<IGatewayInbox>(GrainId.Parse(id)) : null);

    public Task Heartbeat()
    {
        _lastHeartbeat = time.GetTimestamp();
        return Task.CompletedTask;
    }

    public Task<bool> IsReporting() =>
        Task.FromResult(_lastHeartbeat is { } last && time.GetElapsedTime(last) <= _silence);

    public async Task Unregister()
    {
        _lastHeartbeat = null;
        await state.ClearStateAsync();
        DeactivateOnIdle();
    }
}

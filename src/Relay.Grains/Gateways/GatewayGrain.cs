using Relay.Grains.Contracts;

namespace Relay.Grains.Gateways;

/// <inheritdoc cref="IGatewayGrain"/>
internal sealed class GatewayGrain(
    [PersistentState("gateway", GatewayStreams.Storage)] IPersistentState<GatewayState> state) : Grain, IGatewayGrain
{
    public async Task Register(IGatewayInbox inbox)
    {
        var id = inbox.GetGrainId().ToString();
        if (state.State.Inbox == id) return;
        state.State.Inbox = id;
        await state.WriteStateAsync();
    }

    public Task<IGatewayInbox?> GetInbox() =>
        Task.FromResult(state.State.Inbox is { } id ? GrainFactory.GetGrain<IGatewayInbox>(GrainId.Parse(id)) : null);

    public async Task Unregister()
    {
        await state.ClearStateAsync();
        DeactivateOnIdle();
    }
}

namespace Relay.Gateway.Routing;

/// <summary>
/// Serializes the membership transitions (register, leave, reap) of one peer on this node, across the awaited
/// grain call each of them makes, so that a peer's announcements go out in the order its grain decided them.
/// Striped: a fixed set of semaphores shared by hash, instead of one per peer that would need its own lifetime.
/// </summary>
internal sealed class TransitionGates
{
    private readonly SemaphoreSlim[] _gates = CreateGates(64);

    public async ValueTask<Releaser> EnterAsync(string mesh, string peerId)
    {
        var gate = _gates[(uint)HashCode.Combine(mesh, peerId) % (uint)_gates.Length];
        await gate.WaitAsync();
        return new Releaser(gate);
    }

    private static SemaphoreSlim[] CreateGates(int count)
    {
        var gates = new SemaphoreSlim[count];
        for (var i = 0; i < count; i++) gates[i] = new SemaphoreSlim(1, 1);
        return gates;
    }

    public readonly struct Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

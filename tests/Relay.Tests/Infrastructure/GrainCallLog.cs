using Relay.Grains.Meshes;
using Relay.Grains.Peers;

namespace Relay.Tests.Infrastructure;

/// <summary>One call into a peer or mesh grain: which grain, which method, which activation served it, and when
/// it started (unix seconds).</summary>
public sealed record GrainCall(GrainId Grain, string Method, ActivationId Activation, double At);

/// <summary>
/// Silo-side incoming call filter (test only) that records calls into relay grains, including the reminder
/// service's <c>ReceiveReminder</c> calls, with the serving activation's id, and lets tests await a call.
/// </summary>
public sealed class GrainCallLog : IIncomingGrainCallFilter
{
    private readonly Lock _lock = new();
    private readonly List<GrainCall> _calls = [];
    private readonly List<(Func<GrainCall, bool> Match, TaskCompletionSource<GrainCall> Done)> _waiters = [];

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.TargetContext?.GrainInstance is PeerGrain or MeshGrain)
        {
            Record(new GrainCall(context.TargetId, context.MethodName, context.TargetContext.ActivationId, Unix.Now()));
        }
        await context.Invoke();
    }

    public IReadOnlyList<GrainCall> For(GrainId grain)
    {
        lock (_lock) return [.. _calls.Where(c => c.Grain == grain)];
    }

    /// <summary>The first recorded call (past or future) that matches; fails after <paramref name="timeout"/>.</summary>
    public async Task<GrainCall> WaitForAsync(Func<GrainCall, bool> match, TimeSpan timeout, string what)
    {
        TaskCompletionSource<GrainCall> done;
        lock (_lock)
        {
            var seen = _calls.FirstOrDefault(match);
            if (seen is not null) return seen;
            done = new TaskCompletionSource<GrainCall>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, done));
        }
        try
        {
            return await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No grain call within {timeout}: {what}");
        }
    }

    private void Record(GrainCall call)
    {
        List<TaskCompletionSource<GrainCall>>? matched = null;
        lock (_lock)
        {
            _calls.Add(call);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(call)) continue;
                (matched ??= []).Add(_waiters[i].Done);
                _waiters.RemoveAt(i);
            }
        }
        if (matched is null) return;
        foreach (var done in matched) done.TrySetResult(call);
    }
}

using System.Threading.Tasks.Sources;

namespace Relay.Gateway.Connections;

/// <summary>
/// Wakes a connection's writer: <see cref="Ring"/> marks work (rings before the writer looks count as one), and
/// <see cref="WaitAsync"/>, called by the one writer, completes with true once rung (at once if it was), with false
/// once <see cref="Complete"/> was called and no ring is pending, or is cancelled by its token.
/// </summary>
/// <remarks>
/// Every connection holds one for life, idle or not. A bounded <c>Channel&lt;bool&gt;</c> of capacity 1 did the same
/// job at about 600 bytes (its queue and four preallocated reader and writer operations; bench/results/2026-12-03-scale.md);
/// this is one object of about 100, and a wait allocates nothing but its token's registration.
/// </remarks>
internal sealed class Doorbell : IValueTaskSource<bool>
{
    private const int Quiet = 0;
    private const int Rung = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private CancellationToken _waitToken;
    private int _state;
    private volatile bool _completed;

    /// <summary>Marks work for the writer, waking it if it waits. Never blocks.</summary>
    public void Ring()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Rung:
                    return;
                case Quiet:
                    if (Interlocked.CompareExchange(ref _state, Rung, Quiet) == Quiet) return;
                    break;
                default:
                    if (Interlocked.CompareExchange(ref _state, Quiet, Waiting) == Waiting)
                    {
                        _core.SetResult(true);
                        return;
                    }
                    break;
            }
        }
    }

    /// <summary>No more work will come: a waiting (or the next) wait returns false once no ring is pending.</summary>
    public void Complete()
    {
        _completed = true;
        if (Interlocked.CompareExchange(ref _state, Quiet, Waiting) == Waiting) _core.SetResult(false);
    }

    /// <summary>Waits until rung (true) or completed (false). One waiter at a time.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Quiet, Rung) == Rung) return new ValueTask<bool>(true);
        if (_completed) return new ValueTask<bool>(false);
        cancellationToken.ThrowIfCancellationRequested();
        _core.Reset();
        _waitToken = cancellationToken;
        if (Interlocked.CompareExchange(ref _state, Waiting, Quiet) != Quiet)
        {
            // A ring came in between: take it.
            Volatile.Write(ref _state, Quiet);
            return new ValueTask<bool>(true);
        }
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(static bell => ((Doorbell)bell!).Cancel(), this);
        }
        // Completed while this wait was being set up: nobody else will wake it.
        if (_completed && Interlocked.CompareExchange(ref _state, Quiet, Waiting) == Waiting) _core.SetResult(false);
        return new ValueTask<bool>(this, _core.Version);
    }

    private void Cancel()
    {
        if (Interlocked.CompareExchange(ref _state, Quiet, Waiting) == Waiting)
        {
            _core.SetException(new OperationCanceledException(_waitToken));
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _registration.Dispose();
            _registration = default;
            _waitToken = default;
        }
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

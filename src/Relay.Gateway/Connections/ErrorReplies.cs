using Relay.Gateway.Diagnostics;
using Relay.Protocol;

namespace Relay.Gateway.Connections;

/// <summary>
/// The relay's error frames to one connection about what it did or what befell its frames. Answers to its frames
/// are counted (<c>relay.errors</c>) and pass its <see cref="ErrorGate"/>: a flood of bad frames gets a few errors
/// and then one <c>errors_suppressed</c> summary. The counted notices of lost frames are never withheld.
/// </summary>
internal sealed class ErrorReplies(RelayMetrics metrics, TimeProvider time)
{
    /// <summary>Answers the sender with an error frame, within its error rate limit. <paramref name="turnId"/>: the
    /// offending frame's raw <c>turnId</c>, so the client can match the error to its turn.</summary>
    public void Send(RelayConnection connection, string code, string message, ReadOnlySpan<byte> turnId, ReadOnlySpan<byte> extra = default)
    {
        metrics.Error(code);
        var now = time.GetTimestamp();
        SendSuppressedSummary(connection, now);
        if (!connection.Errors.TryPass(now)) return;
        connection.Send(RelayFrames.Error(code, message, connection.PeerId, turnId, UnixTime.Now(time), extra), droppable: false);
    }

    /// <summary>Tells the connection how many errors its rate limit withheld, when there are some and the limit lets a
    /// summary through at <paramref name="now"/> (a <see cref="TimeProvider.GetTimestamp"/>).</summary>
    public void SendSuppressedSummary(RelayConnection connection, long now)
    {
        // A connection that never had an error has nothing suppressed (and is given no gate by the periodic sweep).
        var suppressed = connection.ErrorsIfAny?.TakeSummary(now) ?? 0;
        if (suppressed == 0) return;
        connection.Send(RelayFrames.CountedError(ErrorCodes.ErrorsSuppressed, suppressed, "further error(s) were not sent (error rate limit)",
            connection.PeerId, UnixTime.Now(time)), droppable: false);
    }

    /// <summary>The notice a slow consumer's writer sends once it has caught up: <paramref name="count"/> frames for it
    /// were dropped.</summary>
    public byte[] DroppedNotice(RelayConnection connection, long count)
    {
        metrics.Error(ErrorCodes.Dropped);
        return RelayFrames.CountedError(ErrorCodes.Dropped, count, "frame(s) for this connection were dropped because it reads too slowly",
            connection.PeerId, UnixTime.Now(time));
    }

    /// <summary>Frames the connection sent that could not reach another node of the relay.</summary>
    public void SendUndelivered(RelayConnection sender, int count) =>
        sender.Send(RelayFrames.CountedError(ErrorCodes.Undelivered, count,
            "frame(s) you sent could not be delivered to another node of the relay", sender.PeerId, UnixTime.Now(time)), droppable: false);

    /// <summary>Batches of frames from another node (<paramref name="source"/>) that never arrived: the connection may
    /// have missed frames.</summary>
    public void SendLostInTransit(RelayConnection connection, long batches, string source) =>
        connection.Send(RelayFrames.CountedError(ErrorCodes.LostInTransit, batches,
            $"frames from another node of the relay ({source}) were lost in transit", connection.PeerId, UnixTime.Now(time)), droppable: false);
}

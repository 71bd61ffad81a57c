namespace Relay.Gateway.Connections;

/// <summary>What a <see cref="ConnectionReader"/> hands each whole text frame to (the routing side of the
/// connection). Frames are handed over one at a time, in the order they arrived.</summary>
internal interface IFrameHandler
{
    /// <summary>Handles one frame; <paramref name="frame"/> is only valid until the returned task completes.</summary>
    ValueTask HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);
}

using Relay.Gateway.Connections;

namespace Relay.Gateway.Routing;

/// <summary>The liveness reports to peer grains, as routing feeds them (<c>Cluster.LivenessReporter</c> is the
/// implementation): every frame a connection receives is shown to it, so that it can report a frame after a silence
/// at once instead of at its next period.</summary>
internal interface ILivenessReports
{
    /// <summary><paramref name="connection"/> received a frame at <paramref name="now"/> (a <see cref="TimeProvider"/>
    /// timestamp). Never blocks; costs a comparison unless the frame needs reporting now.</summary>
    void FrameReceived(RelayConnection connection, long now);
}

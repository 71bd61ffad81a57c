using System.Reflection;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Relay.Grains.Contracts;

namespace Relay.Tests.Links;

/// <summary>
/// What the link tests need of a cluster, with no silo: a client whose every gateway grain answers with one
/// <see cref="RecordingInbox"/>, and a host lifetime the test stops. Nothing else of the client is used.
/// </summary>
public static class FakeLinkCluster
{
    public static IClusterClient With(IGatewayInbox inbox)
    {
        var client = DispatchProxy.Create<IClusterClient, GrainFactoryProxy>();
        ((GrainFactoryProxy)(object)client).Gateway = new OneInboxGateway(inbox);
        return client;
    }

    /// <summary>Answers every GetGrain with the one gateway grain.</summary>
    public class GrainFactoryProxy : DispatchProxy
    {
        internal IGatewayGrain? Gateway { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) ? Gateway : throw new NotSupportedException(targetMethod?.Name);
    }

    private sealed class OneInboxGateway(IGatewayInbox inbox) : IGatewayGrain
    {
        public Task Register(IGatewayInbox registered) => Task.CompletedTask;

        public Task<IGatewayInbox?> GetInbox() => Task.FromResult<IGatewayInbox?>(inbox);

        public Task Unregister() => Task.CompletedTask;

        public Task Heartbeat() => Task.CompletedTask;

        public Task<bool> IsReporting() => Task.FromResult(true);
    }
}

/// <summary>A destination gateway's inbox that records the batches and acknowledgements it is sent.</summary>
internal sealed class RecordingInbox : IGatewayInbox
{
    public Channel<LinkBatch> Batches { get; } = Channel.CreateUnbounded<LinkBatch>();

    public Channel<long> Acknowledged { get; } = Channel.CreateUnbounded<long>();

    public Task Deliver(LinkBatch batch)
    {
        Batches.Writer.TryWrite(batch);
        return Task.CompletedTask;
    }

    public Task Acknowledge(string destinationGateway, long upToSequence)
    {
        Acknowledged.Writer.TryWrite(upToSequence);
        return Task.CompletedTask;
    }
}

/// <summary>A host that has started and stops when the test says.</summary>
internal sealed class RunningLifetime : IHostApplicationLifetime, IDisposable
{
    private readonly CancellationTokenSource _stopped = new();

    public CancellationToken ApplicationStarted => new(canceled: true);

    public CancellationToken ApplicationStopping => _stopped.Token;

    public CancellationToken ApplicationStopped => _stopped.Token;

    public void StopApplication() => Stop();

    public void Stop() => _stopped.Cancel();

    public void Dispose() => _stopped.Dispose();
}

using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Relay.Gateway.Dashboard;

/// <summary>
/// <c>GET /dashboard/events</c>: server-sent events, one JSON <see cref="DashboardView"/> per update interval, until
/// the viewer leaves, its token expires (the browser's reconnect then needs a fresh one), a newer viewer takes its place
/// (<see cref="DashboardStreams"/>) or the node stops.
/// </summary>
internal sealed class DashboardEvents(
    DashboardViews views,
    DashboardStreams streams,
    IOptions<DashboardOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public async Task StreamAsync(HttpContext context, DashboardViewer viewer)
    {
        using var stream = streams.Open(context.Connection.RemoteIpAddress);
        await RunAsync(context, viewer, stream.Ended);
    }

    private async Task RunAsync(HttpContext context, DashboardViewer viewer, CancellationToken ended)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping, ended);
        if (viewer.Until is { } until) stop.CancelAfter(Clamp(until - time.GetUtcNow()));
        using var timer = new PeriodicTimer(options.Value.UpdateInterval, time);
        try
        {
            await response.Body.WriteAsync("retry: 2000\n\n"u8.ToArray(), stop.Token);
            do
            {
                var view = await views.CurrentAsync(viewer.Mesh, stop.Token);
                await response.Body.WriteAsync(DataPrefix, stop.Token);
                await JsonSerializer.SerializeAsync(response.Body, view, DashboardJsonContext.Default.DashboardView, stop.Token);
                await response.Body.WriteAsync(EventEnd, stop.Token);
                await response.Body.FlushAsync(stop.Token);
            }
            while (await timer.WaitForNextTickAsync(stop.Token));
        }
        catch (OperationCanceledException)
        {
            // the viewer left, a newer viewer took its place, its token expired, or the node stops
        }
    }

    private static TimeSpan Clamp(TimeSpan wait) =>
        wait < TimeSpan.Zero ? TimeSpan.Zero : wait > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : wait;
}

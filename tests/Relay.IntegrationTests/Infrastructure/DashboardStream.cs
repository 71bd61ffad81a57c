using System.Net;
using System.Text.Json;
using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A reader of <c>GET /dashboard/events</c> (server-sent events): waits, bounded, for an update that shows
/// what a test expects.</summary>
internal sealed class DashboardStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private DashboardStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public static async Task<DashboardStream> OpenAsync(HttpClient http, string query = "")
    {
        var response = await http.GetAsync(new Uri("dashboard/events" + query, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new DashboardStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The first update (a JSON view) for which <paramref name="condition"/> holds; fails after
    /// <paramref name="timeout"/> with the last update seen.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> condition, TimeSpan timeout, string description)
    {
        using var cts = new CancellationTokenSource(timeout);
        var last = "(none)";
        try
        {
            while (await _reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                last = line[6..];
                var view = JsonDocument.Parse(last).RootElement.Clone();
                if (condition(view)) return view;
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new TimeoutException($"the dashboard never showed {description} within {timeout}; last update: {last}");
    }

    /// <summary>Whether the relay ends this stream within <paramref name="timeout"/> (updates until then are read and
    /// dropped).</summary>
    public async Task<bool> EndsWithinAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await _reader.ReadLineAsync(cts.Token) is not null)
            {
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The peers the view lists in <paramref name="mesh"/> (empty when the mesh is not shown).</summary>
    public static IEnumerable<JsonElement> Peers(JsonElement view, string mesh) =>
        view.GetProperty("meshes").EnumerateArray()
            .Where(m => m.GetProperty("name").GetString() == mesh)
            .SelectMany(m => m.GetProperty("peers").EnumerateArray());

    public static bool ShowsPeer(JsonElement view, string mesh, string peerId) =>
        Peers(view, mesh).Any(p => p.GetProperty("id").GetString() == peerId);

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}

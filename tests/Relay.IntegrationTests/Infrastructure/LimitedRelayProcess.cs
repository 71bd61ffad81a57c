using System.Diagnostics;
using System.Globalization;
using System.Text;
using Relay.Tests.Infrastructure;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The single-process relay as a child process started with a low open-file limit (<c>ulimit -n</c>), the dlls this
/// test run built, on free ports; its log is kept to be read by tests, and it can be frozen and let run again (signals
/// to the process itself). Disposing it kills it.
/// </summary>
public sealed class LimitedRelayProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly Lock _lock = new();

    private LimitedRelayProcess(Process process, int port)
    {
        _process = process;
        HttpBase = new Uri($"http://127.0.0.1:{port}/");
        Http = new HttpClient { BaseAddress = HttpBase, Timeout = TimeSpan.FromSeconds(10) };
        process.OutputDataReceived += (_, line) => Append(line.Data);
        process.ErrorDataReceived += (_, line) => Append(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri HttpBase { get; }

    public HttpClient Http { get; }

    /// <summary>The WebSocket URL of <paramref name="mesh"/>.</summary>
    public Uri Mesh(string mesh) => new($"ws://127.0.0.1:{HttpBase.Port}/ws?mesh={mesh}");

    public bool HasExited => _process.HasExited;

    /// <summary>What the relay printed so far (stdout and stderr).</summary>
    public string Log
    {
        get { lock (_lock) return _log.ToString(); }
    }

    /// <summary>Starts <c>Relay.Silo.dll</c> under <c>ulimit -n <paramref name="openFiles"/></c> with
    /// <paramref name="settings"/> (<c>Relay:Key=value</c>) and waits until <c>/ping</c> answers.</summary>
    public static async Task<LimitedRelayProcess> StartAsync(int openFiles, params string[] settings)
    {
        var taken = new HashSet<int>();
        var port = ClusterScript.FreePortBlock(1, taken);
        var dll = Path.Combine(RepositoryFiles.Root, "src", "Relay.Silo", "bin", ClusterScript.Configuration, "net10.0", "Relay.Silo.dll");
        string[] arguments =
        [
            dll, "--urls", $"http://127.0.0.1:{port}",
            $"--Cluster:SiloPort={ClusterScript.FreePortBlock(1, taken)}", $"--Cluster:GatewayPort={ClusterScript.FreePortBlock(1, taken)}",
            "--Relay:DrainWindow=00:00:00", .. RelayServer.UnlimitedConnectRate.Select(s => "--" + s), .. settings.Select(s => "--" + s),
        ];
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // exec: the relay is this process itself, so killing it kills the relay.
        foreach (var arg in (string[])["-c", $"ulimit -n {openFiles.ToString(CultureInfo.InvariantCulture)} && exec dotnet \"$@\"", "relay", .. arguments])
        {
            start.ArgumentList.Add(arg);
        }
        var relay = new LimitedRelayProcess(Process.Start(start) ?? throw new InvalidOperationException("bash did not start"), port);
        relay._process.StandardInput.Close();
        var watch = Stopwatch.StartNew();
        while (!await relay.PingsAsync())
        {
            if (relay.HasExited || watch.Elapsed > StartTimeout)
            {
                await relay.DisposeAsync();
                throw new InvalidOperationException($"the relay did not answer /ping within {StartTimeout}:\n{relay.Log}");
            }
            await Task.Delay(200);
        }
        return relay;
    }

    /// <summary>Whether <c>/ping</c> answers 200 now, on a new connection (so it also says the relay accepts them).</summary>
    public async Task<bool> PingsAsync()
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("ping", UriKind.Relative));
            request.Headers.ConnectionClose = true;
            using var response = await Http.SendAsync(request);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Waits (bounded) until the log contains <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"'{text}' not in the relay's log within {timeout}:\n{Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>Freezes the relay (SIGSTOP): none of its threads runs until <see cref="ResumeAsync"/>, as on a host that
    /// gives it no CPU. The kernel still accepts connections and buffers what clients send.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Lets a paused relay run again (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill {signal} {_process.Id} failed ({kill.ExitCode})");
    }

    /// <summary>Stops the relay as an operator would (SIGTERM) and waits, bounded, until it has exited: by then its
    /// loggers have written out what they had queued.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        using var bounded = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(bounded.Token);
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lock) _log.AppendLine(line);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

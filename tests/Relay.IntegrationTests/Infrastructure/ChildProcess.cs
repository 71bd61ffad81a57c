using System.Diagnostics;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Runs a program to its end, bounded in time, and keeps what it printed.</summary>
internal static class ChildProcess
{
    public sealed record Result(string Command, int ExitCode, string StandardOutput, string StandardError)
    {
        public string[] OutputLines => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        public override string ToString() => $"{Command}: exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
    }

    /// <summary>Runs <paramref name="program"/> with <paramref name="args"/> (stdin closed); kills its whole tree
    /// and throws after <paramref name="timeout"/>. <paramref name="environment"/> adds to the inherited one.</summary>
    public static async Task<Result> RunAsync(string program, IEnumerable<string> args, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var arg in args) start.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) start.Environment[key] = value;
        }
        var command = string.Join(' ', start.ArgumentList.Prepend(program));

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish within {timeout}");
        }
        return new Result(command, process.ExitCode, await stdout, await stderr);
    }
}

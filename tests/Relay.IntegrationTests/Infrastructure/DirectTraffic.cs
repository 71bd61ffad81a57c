using Relay.Tests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>A steady stream of numbered direct frames from one peer to another, every 20 ms.</summary>
internal sealed class DirectTraffic : IDisposable
{
    private readonly TestPeer _to;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _sent;

    public DirectTraffic(TestPeer from, TestPeer to)
    {
        _to = to;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                await from.SendAsync(new { type = "direct", to = to.Id, data = new { seq = _sent, traffic = true } });
                Interlocked.Increment(ref _sent);
                await Task.Delay(20); // pacing the load, not synchronising
            }
        });
    }

    public int Sent => Volatile.Read(ref _sent);

    public int Lost => Sent - _to.All(IsTraffic).Select(f => Frame.Seq(f)).Distinct().Count();

    /// <summary>The sequence numbers that never arrived, as ranges ("12-55, 80").</summary>
    public string Missing()
    {
        var seen = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToHashSet();
        var missing = Enumerable.Range(0, Sent).Where(i => !seen.Contains(i)).ToList();
        var ranges = new List<string>();
        for (var i = 0; i < missing.Count;)
        {
            var j = i;
            while (j + 1 < missing.Count && missing[j + 1] == missing[j] + 1) j++;
            ranges.Add(i == j ? $"{missing[i]}" : $"{missing[i]}-{missing[j]}");
            i = j + 1;
        }
        return string.Join(", ", ranges);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        // The last frame sent is in order behind every earlier one: once it is here, the rest is too (or lost).
        await _to.WaitForAsync(f => IsTraffic(f) && Frame.Seq(f) == Sent - 1, TimeSpan.FromSeconds(30));
    }

    /// <summary>Whatever arrived, arrived once and in the order it was sent (gaps allowed).</summary>
    public void AssertInOrderOnce()
    {
        var seqs = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToArray();
        for (var i = 1; i < seqs.Length; i++)
        {
            Assert.True(seqs[i] > seqs[i - 1], $"frame {seqs[i]} arrived after frame {seqs[i - 1]}");
        }
    }

    public void AssertNothingLost()
    {
        var seqs = _to.All(IsTraffic).Select(f => Frame.Seq(f)!.Value).ToArray();
        Assert.Equal(Enumerable.Range(0, Sent).Select(i => (long)i), seqs);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private static bool IsTraffic(System.Text.Json.JsonElement frame) =>
        Frame.IsType(frame, "direct") && Frame.Data(frame) is { } data && data.TryGetProperty("traffic", out _);
}

using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Relay.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Relay.IntegrationTests.Reliability;

/// <summary>
/// Issue #8 "Fuzzed frames": several connections send thousands of malformed and adversarial frames (seeded, see
/// <see cref="SeedVariable"/>) while well-behaved peers exchange traffic. Every bad frame must get exactly the answer
/// protocol.md documents (error code, or close code), the well-behaved peers must lose nothing and see every sender
/// in order, and afterwards the relay holds only the well-behaved peers again, with bounded memory.
/// </summary>
[Collection(MemoryMeasuringGroup.Name)]
public sealed class FuzzedFrameTests(ITestOutputHelper output) : EndToEndTest
{
    /// <summary>Set to a seed printed by a failed run to replay it.</summary>
    public const string SeedVariable = "RELAY_FUZZ_SEED";

    private const int MaxFrameBytes = 1024 * 1024;
    private const int MaxMetadataBytes = 64 * 1024;
    private const int MaxPeerIdLength = 256;
    private const int GoodPeers = 4;
    private const int RegisteredFuzzers = 3;
    private const int UnregisteredFuzzers = 3;
    private const int FramesPerFuzzer = 500;
    private const int ClosingConnections = 16;

    /// <summary>Rounds before the first heap measurement: the managed heap levels off only after four to six rounds
    /// (measured; buffer pools fill per thread), then stays within a few MiB.</summary>
    private const int WarmUpRounds = 4;

    /// <summary>Rounds between the two heap measurements.</summary>
    private const int MeasuredRounds = 4;

    /// <summary>Managed memory the relay may add over <see cref="MeasuredRounds"/>: above what the pools still settle,
    /// below what keeping even half of each round's bad frames would cost (a round sends some 17 MiB).</summary>
    private const long MemoryBound = 32L * 1024 * 1024;

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Adversarial_frames_get_their_documented_answers_while_good_peers_lose_nothing()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var given)
            ? given
            : Random.Shared.Next();
        output.WriteLine($"fuzz seed {seed} (replay: {SeedVariable}={seed})");
        try
        {
            await RunAsync(seed);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"fuzz seed {seed} (replay: {SeedVariable}={seed}): {e.Message}", e);
        }
    }

    private async Task RunAsync(int seed)
    {
        // Rate and error limits out of the way: each bad frame must get its own answer (the limits have their tests).
        await StartRelayAsync(
            "Relay:RateLimitPerSecond=1000000", "Relay:RateLimitBurst=1000000", "Relay:ByteRateLimitPerSecond=1000000000", "Relay:ByteRateLimitBurst=1000000000", "Relay:ErrorsPerSecond=1000", "Relay:ErrorBurst=1000",
            $"Relay:MaxFrameBytes={MaxFrameBytes}", $"Relay:MaxMetadataBytes={MaxMetadataBytes}", $"Relay:MaxPeerIdLength={MaxPeerIdLength}");
        var good = new List<TestPeer>();
        for (var i = 0; i < GoodPeers; i++) good.Add(await JoinAsync(TestPeer.NewId("good")));

        // Growth after the warm-up (buffer pools, JIT, caches) is what a leak would show. Each round ends with the good
        // peers forgetting what they received, so the heap measured is the relay's.
        var round = 0;
        for (; round < WarmUpRounds; round++) await FuzzRoundAsync(seed, round, good);
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (; round < WarmUpRounds + MeasuredRounds; round++) await FuzzRoundAsync(seed, round, good);
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"managed heap {heapBefore / 1024} KiB after round {WarmUpRounds}, {heapAfter / 1024} KiB after round {round}");
        Assert.True(heapAfter - heapBefore < MemoryBound,
            $"managed heap grew from {heapBefore / 1024} KiB to {heapAfter / 1024} KiB over {MeasuredRounds} rounds (allowed: {MemoryBound / 1024} KiB)");
    }

    private async Task FuzzRoundAsync(int seed, int round, List<TestPeer> good)
    {
        using var fuzzing = new CancellationTokenSource();
        var traffic = good.Select((peer, i) => SendGoodTrafficAsync(peer, good, round, new Random(Derive(seed, round, 1000 + i)), fuzzing.Token)).ToArray();
        var fuzzers = new List<Task<string?>>();
        var registeredIds = new List<string>();
        for (var i = 0; i < RegisteredFuzzers + UnregisteredFuzzers; i++)
        {
            var fuzzer = Fuzzer(Derive(seed, round, i));
            var registered = i < RegisteredFuzzers;
            var id = fuzzer.NewOddId();
            if (registered) registeredIds.Add(id);
            fuzzers.Add(FuzzAsync(fuzzer, id, registered));
        }
        fuzzers.Add(CloseConnectionsAsync(Derive(seed, round, -1), registeredIds));
        var problems = (await Task.WhenAll(fuzzers)).Where(p => p is not null).ToList();
        await fuzzing.CancelAsync();
        var sent = await Task.WhenAll(traffic);

        Assert.True(problems.Count == 0, $"round {round + 1}:\n" + string.Join("\n\n", problems));
        AssertGoodTraffic(good, round, sent);
        await AssertBackToBaselineAsync(good, registeredIds);
        foreach (var peer in good) peer.ForgetReceived();
    }

    /// <summary>A seed for one generator of one round (deterministic: <see cref="HashCode"/> is randomized per process).</summary>
    private static int Derive(int seed, int round, int index) => unchecked((seed * 1_000_003) + (round * 7919) + index);

    private static FrameFuzzer Fuzzer(int seed) =>
        new(seed.ToString("x8", CultureInfo.InvariantCulture), new Random(seed), MaxFrameBytes, MaxMetadataBytes, MaxPeerIdLength);

    /// <summary>One connection sends <see cref="FramesPerFuzzer"/> bad frames (and one frame of exactly the maximum
    /// size) without waiting, then checks the relay's answers one by one. Returns a description of the first
    /// mismatch, or null.</summary>
    private async Task<string?> FuzzAsync(FrameFuzzer fuzzer, string id, bool registered)
    {
        await using var peer = await TestPeer.ConnectAsync(MeshUri(), id);
        if (registered) await peer.RegisterAsync();
        var sent = new List<FuzzFrame>();
        var largestAt = FramesPerFuzzer / 2;
        for (var i = 0; i < FramesPerFuzzer; i++)
        {
            var frame = i == largestAt ? fuzzer.LargestInvalid() : registered ? fuzzer.NextForRegistered(id) : fuzzer.NextForUnregistered();
            await SendAsync(peer, frame);
            sent.Add(Summary(frame));
        }
        var problem = await CheckAnswersAsync(peer, sent, registered ? 1 : 0);
        if (problem is null && peer.HasEnded) problem = $"{id}: the relay closed the socket ({peer.CloseStatus}) for frames that must not close it";
        return problem;
    }

    /// <summary>Connections that each send a few bad frames, then one the relay must close the socket for (invalid
    /// UTF-8: 1007, one byte over the maximum: 1009). Half register first, so their peer must go offline.</summary>
    private async Task<string?> CloseConnectionsAsync(int seed, List<string> registeredIds)
    {
        var fuzzer = Fuzzer(seed);
        var random = new Random(~seed);
        for (var i = 0; i < ClosingConnections; i++)
        {
            var registered = random.Next(2) == 0;
            var id = fuzzer.NewOddId();
            await using var peer = await TestPeer.ConnectAsync(MeshUri(), id);
            if (registered)
            {
                await peer.RegisterAsync();
                lock (registeredIds) registeredIds.Add(id);
            }
            var sent = new List<FuzzFrame>();
            for (var j = random.Next(0, 20); j > 0; j--)
            {
                var frame = registered ? fuzzer.NextForRegistered(id) : fuzzer.NextForUnregistered();
                await SendAsync(peer, frame);
                sent.Add(Summary(frame));
            }
            if (await CheckAnswersAsync(peer, sent, registered ? 1 : 0) is { } problem) return problem;

            var closing = fuzzer.Closing();
            try
            {
                await SendAsync(peer, closing);
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
            {
                // The relay may close while the rest of an oversize message is still being sent.
            }
            WebSocketCloseStatus? status;
            try
            {
                status = await peer.WaitForCloseAsync(AnswerTimeout);
            }
            catch (TimeoutException e)
            {
                return $"{id}: no close after {closing}\n{e.Message}";
            }
            if (status != closing.Close) return $"{id}: closed with {status?.ToString() ?? "no status"} '{peer.CloseDescription}' after {closing}";
        }
        return null;
    }

    private static Task SendAsync(TestPeer peer, FuzzFrame frame) => peer.SendFragmentsAsync(frame.Payload, frame.Kind, frame.Pieces);

    /// <summary>The frame without its payload (some are 1 MiB): what the check needs.</summary>
    private static FuzzFrame Summary(FuzzFrame frame)
    {
        var head = frame.Payload.Length > 400 ? frame.Payload[..400] : frame.Payload;
        return frame with { Payload = head, Description = frame.Payload.Length > 400 ? $"{frame.Description} ({frame.Payload.Length} B)" : frame.Description };
    }

    /// <summary>
    /// Sends a capabilities round trip after <paramref name="sent"/>, waits for every answer, and compares the relay's
    /// answers (its error frames and capabilities responses, which it sends in the order of the frames they answer)
    /// with the expected ones, frame by frame. <paramref name="answersBefore"/>: answers the connection got (and a
    /// wait consumed) before the first of <paramref name="sent"/>.
    /// </summary>
    private static async Task<string?> CheckAnswersAsync(TestPeer peer, List<FuzzFrame> sent, int answersBefore)
    {
        await peer.SendAsync(new { type = "capabilities" });
        var expected = sent.Where(f => f.Answer is not null).ToList();
        try
        {
            await peer.WaitForCountAsync(IsRelayAnswer, expected.Count + 1, AnswerTimeout, "relay answers");
        }
        catch (TimeoutException)
        {
            // Compare what did arrive: the first mismatch says more than the count.
        }
        var answers = peer.All(IsRelayAnswer).Skip(answersBefore).ToList();
        for (var i = 0; i < expected.Count; i++)
        {
            if (i >= answers.Count) return $"{peer.Id}: no answer to {expected[i]} (answer #{i}; {answers.Count} arrived)\n{peer.Dump(10)}";
            if (AnswerOf(answers[i]) != expected[i].Answer)
            {
                var previous = i > 0 ? $"\nafter answer to: {expected[i - 1]}" : "";
                return $"{peer.Id}: answer #{i} is {answers[i]}\nexpected {expected[i]}{previous}";
            }
        }
        if (answers.Count != expected.Count + 1 || AnswerOf(answers[^1]) != FuzzFrame.CapabilitiesAnswer)
        {
            return $"{peer.Id}: {answers.Count - expected.Count - 1} unexpected answer(s) at the end: {string.Join("\n", answers.Skip(expected.Count))}";
        }
        return null;
    }

    /// <summary>A frame the relay made for this connection: an error (no <c>sender</c>: forwarded frames have one,
    /// even when a client called itself "relay") or a capabilities response.</summary>
    private static bool IsRelayAnswer(JsonElement frame) =>
        Frame.From(frame) == "relay" && !frame.TryGetProperty("sender", out _)
        && (Frame.IsType(frame, "error") || Frame.IsType(frame, FuzzFrame.CapabilitiesAnswer));

    private static string? AnswerOf(JsonElement frame) =>
        Frame.IsType(frame, "error") ? Frame.DataStr(frame, "code") : Frame.Type(frame);

    /// <summary>A well-behaved peer: numbered broadcast-class frames and directs to the others until the fuzzing
    /// ends (at least 100). Returns the sequence numbers each receiver must get, in order.</summary>
    private static async Task<Dictionary<string, List<long>>> SendGoodTrafficAsync(TestPeer peer, List<TestPeer> good, int round, Random random, CancellationToken fuzzing)
    {
        var others = good.Where(p => p != peer).ToList();
        var expected = others.ToDictionary(p => p.Id, _ => new List<long>());
        for (var seq = 0L; seq < 100 || !fuzzing.IsCancellationRequested; seq++)
        {
            if (random.Next(3) == 0)
            {
                var to = others[random.Next(others.Count)];
                await peer.SendAsync(new { type = "direct", to = to.Id, data = new { round, seq, src = peer.Id } });
                expected[to.Id].Add(seq);
            }
            else
            {
                await peer.SendAsync(new { type = Pick(random, ["chat", "stream", "broadcast", "ack", "invoke"]), data = new { round, seq, src = peer.Id } });
                foreach (var other in others) expected[other.Id].Add(seq);
            }
            // Pacing, not synchronisation: spread the good traffic over the whole fuzzing.
            await Task.Delay(2, CancellationToken.None);
        }
        await peer.MarkAsync([.. others]);
        return expected;
    }

    private static void AssertGoodTraffic(List<TestPeer> good, int round, Dictionary<string, List<long>>[] sent)
    {
        for (var s = 0; s < good.Count; s++)
        {
            foreach (var receiver in good.Where(r => r != good[s]))
            {
                var got = receiver.All(f => Frame.Sender(f) == good[s].Id && Frame.Seq(f) is not null && RoundOf(f) == round).Select(f => Frame.Seq(f)!.Value).ToList();
                var want = sent[s][receiver.Id];
                Assert.True(want.SequenceEqual(got),
                    $"{receiver.Id} got {got.Count} of {want.Count} frames from {good[s].Id}; first difference at #{FirstDifference(want, got)}");
            }
        }
        foreach (var peer in good)
        {
            Assert.False(peer.HasEnded, $"{peer.Id} was disconnected: {peer.Dump(5)}");
            Assert.DoesNotContain(peer.Received, f => IsRelayAnswer(f) && Frame.IsType(f, "error"));
            Assert.DoesNotContain(peer.Received, f => (Frame.IsType(f, "presence") || Frame.IsType(f, "heartbeat")) && Frame.From(f) == "relay");
        }
    }

    /// <summary>All fuzzers gone: the relay holds only the good peers again (connections, roster) and every registered
    /// fuzzer went offline exactly once.</summary>
    private async Task AssertBackToBaselineAsync(List<TestPeer> good, List<string> registeredIds)
    {
        await WaitForConnectionCountAsync(good.Count, timeout: AnswerTimeout);
        await good[1].MarkAsync(good[0]); // every offline was queued before the connections left the registry
        foreach (var id in registeredIds)
        {
            Assert.Equal(1, good[0].Count(f => Frame.IsOfflineOf(f, id)));
        }
        Assert.Equal(good.Select(p => p.Id).Order(StringComparer.Ordinal), PeersOf(await InvocationsAsync(Mesh)).Order(StringComparer.Ordinal));
        await good[0].SendAsync(new { type = "capabilities" });
        var capabilities = await good[0].WaitForAsync(f => IsRelayAnswer(f) && Frame.IsType(f, FuzzFrame.CapabilitiesAnswer));
        Assert.Equal(good.Count, capabilities.GetProperty("data").GetProperty("relay").GetProperty("peers").GetInt32());
    }

    private static int? RoundOf(JsonElement frame) =>
        Frame.Data(frame) is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("round", out var round) ? round.GetInt32() : null;

    private static int FirstDifference(List<long> want, List<long> got)
    {
        var i = 0;
        while (i < want.Count && i < got.Count && want[i] == got[i]) i++;
        return i;
    }

    private static string Pick(Random random, string[] items) => items[random.Next(items.Length)];
}

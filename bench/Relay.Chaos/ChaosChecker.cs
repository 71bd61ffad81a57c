namespace Relay.Chaos;

/// <summary>What the checker found; <see cref="Passed"/> when nothing was lost unreported, duplicated, reordered,
/// announced wrongly or left behind.</summary>
internal sealed class ChaosVerdict
{
    public long Due { get; set; }
    public long Delivered { get; set; }
    public long MissingReported { get; set; }
    public long MissingUnreported { get; set; }
    public long Duplicates { get; set; }
    public long Reorders { get; set; }
    public int Departures { get; set; }
    public int OfflineDue { get; set; }
    public int OfflineMissing { get; set; }
    public int OfflineDuplicated { get; set; }
    public int OfflineOutOfWindow { get; set; }
    public int FalseOffline { get; set; }
    public int Ghosts { get; set; }
    public List<double> OfflineDelays { get; } = [];
    public Dictionary<string, long> ErrorCodes { get; } = new(StringComparer.Ordinal);
    public List<string> Examples { get; } = [];

    public bool Passed => MissingUnreported == 0 && Duplicates == 0 && Reorders == 0 && OfflineMissing == 0 &&
        OfflineDuplicated == 0 && OfflineOutOfWindow == 0 && FalseOffline == 0 && Ghosts == 0;

    public void Example(string what)
    {
        if (Examples.Count < 30) Examples.Add(what);
    }
}

/// <summary>
/// Checks the run against the contract (docs/protocol.md) from what every socket sent and received:
/// <list type="bullet">
/// <item>a frame was due to a receiver when both sockets stayed open from <see cref="RegistrationMargin"/> seconds
/// before it until <see cref="StayOpen"/> seconds after; each due frame arrived once, in per-sender order, or its
/// loss was said: an error frame for that frame (its turnId) or <c>undelivered</c> (counted) to the sender, or
/// <c>lost_in_transit</c> to the receiver;</item>
/// <item>a peer that left for good (its socket died and it did not come back under its id) went offline exactly
/// once for every survivor of its mesh that had seen it, between <see cref="ChaosOptions.OfflineMin"/> and
/// <see cref="ChaosOptions.OfflineMax"/> seconds after its last frame, and was never present again after that;</item>
/// <item>nobody else was ever announced offline (a peer that came back in time never was).</item>
/// </list>
/// Times are the client's: a frame's time is when its socket took it, so an offline may be measured up to
/// <see cref="ClockTolerance"/> early or late.
/// </summary>
internal sealed class ChaosChecker(ChaosOptions options, PeerTraffic traffic)
{
    public const double RegistrationMargin = 5;
    public const double StayOpen = 10;
    public const double ClockTolerance = 1;

    public ChaosVerdict Check()
    {
        var verdict = new ChaosVerdict();
        foreach (var mesh in traffic.Slots.GroupBy(s => s.Mesh))
        {
            var connections = mesh.SelectMany(s => s.Connections).Where(c => !double.IsNaN(c.OpenedAt)).ToList();
            CheckDeliveries(connections, verdict);
            CheckOffline(mesh.ToList(), connections, verdict);
        }

        foreach (var error in traffic.Slots.SelectMany(s => s.Connections).SelectMany(c => c.Errors))
        {
            verdict.ErrorCodes[error.Code] = verdict.ErrorCodes.GetValueOrDefault(error.Code) + error.Count;
        }

        return verdict;
    }

    private static void CheckDeliveries(List<ChaosConnection> connections, ChaosVerdict verdict)
    {
        foreach (var receiver in connections)
        {
            foreach (var track in receiver.Received.Values)
            {
                verdict.Duplicates += track.Duplicates;
                verdict.Reorders += track.Reorders;
                if (track.Duplicates + track.Reorders > 0) verdict.Example($"{receiver}: {track.Duplicates} duplicated, {track.Reorders} reordered");
            }
        }

        foreach (var sender in connections)
        {
            var answered = sender.Errors.Where(e => e.TurnId is not null).Select(e => e.TurnId!).ToHashSet(StringComparer.Ordinal);
            var undelivered = sender.Errors.Where(e => e.Code == "undelivered").ToList();
            var undeliveredBudget = undelivered.Sum(e => e.Count);
            var relyingOnUndelivered = 0L;
            foreach (var frame in sender.Sent)
            {
                if (sender.ClosedAt < frame.At + StayOpen) continue;
                var missingHere = false;
                foreach (var receiver in frame.Kind == OutKind.Direct ? [frame.Target!] : connections)
                {
                    if (receiver.Slot == sender.Slot || receiver.OpenedAt > frame.At - RegistrationMargin ||
                        receiver.ClosedAt < frame.At + StayOpen) continue;
                    verdict.Due++;
                    if (receiver.Received.TryGetValue(sender.Key, out var track) && track.Seqs.Contains(frame.Seq))
                    {
                        verdict.Delivered++;
                        continue;
                    }

                    if (answered.Contains($"{sender.Key}.{frame.Seq}") ||
                        receiver.Errors.Any(e => e.Code == "lost_in_transit" && e.At >= frame.At - ClockTolerance))
                    {
                        verdict.MissingReported++;
                    }
                    else if (undelivered.Any(e => e.At >= frame.At))
                    {
                        verdict.MissingReported++;
                        missingHere = true;
                    }
                    else
                    {
                        verdict.MissingUnreported++;
                        verdict.Example($"{frame.Kind} {sender.Key}.{frame.Seq} from {sender} at {frame.At:F1} s never reached {receiver}, and nobody was told");
                    }
                }

                if (missingHere) relyingOnUndelivered++;
            }

            if (relyingOnUndelivered > undeliveredBudget)
            {
                verdict.MissingUnreported += relyingOnUndelivered - undeliveredBudget;
                verdict.Example($"{sender}: {relyingOnUndelivered} frames missing, but undelivered counted only {undeliveredBudget}");
            }
        }
    }

    private void CheckOffline(List<MeshSlot> slots, List<ChaosConnection> connections, ChaosVerdict verdict)
    {
        var departedIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var departed in slots.SelectMany(s => s.Departed))
        {
            verdict.Departures++;
            departedIds.Add(departed.PeerId);
            var lastFrame = double.IsNaN(departed.LastSentAt) ? departed.OpenedAt : departed.LastSentAt;
            foreach (var survivor in connections)
            {
                if (survivor.PeerId == departed.PeerId) continue;
                var offline = survivor.Presences.Where(p => p.Offline && p.PeerId == departed.PeerId).ToList();
                var windowEnd = lastFrame + options.OfflineMax + ClockTolerance;
                var sawIt = survivor.Presences.Any(p => !p.Offline && p.PeerId == departed.PeerId && p.At < windowEnd);
                if (offline.Count > 0 && survivor.Presences.Any(p => !p.Offline && p.PeerId == departed.PeerId && p.At > offline[0].At))
                {
                    verdict.Ghosts++;
                    verdict.Example($"{departed.PeerId} was present again for {survivor} after its offline");
                }

                if (!sawIt || survivor.OpenedAt > lastFrame + options.OfflineMin || survivor.ClosedAt < windowEnd) continue;
                verdict.OfflineDue++;
                if (offline.Count == 0)
                {
                    verdict.OfflineMissing++;
                    verdict.Example($"{survivor} never heard {departed.PeerId} (last frame {lastFrame:F1} s) go offline");
                    continue;
                }

                if (offline.Count > 1)
                {
                    verdict.OfflineDuplicated++;
                    verdict.Example($"{survivor} heard {departed.PeerId} go offline {offline.Count} times");
                }

                var delay = offline[0].At - lastFrame;
                verdict.OfflineDelays.Add(delay);
                if (delay < options.OfflineMin - ClockTolerance || delay > options.OfflineMax + ClockTolerance)
                {
                    verdict.OfflineOutOfWindow++;
                    verdict.Example($"{survivor} heard {departed.PeerId} go offline {delay:F1} s after its last frame");
                }
            }
        }

        foreach (var receiver in connections)
        {
            foreach (var presence in receiver.Presences.Where(p => p.Offline && !departedIds.Contains(p.PeerId) &&
                !p.PeerId.StartsWith("observer-", StringComparison.Ordinal)))
            {
                verdict.FalseOffline++;
                verdict.Example($"{receiver} heard {presence.PeerId} go offline at {presence.At:F1} s, but it never left");
            }
        }
    }
}

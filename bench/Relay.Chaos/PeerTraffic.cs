namespace Relay.Chaos;

/// <summary>
/// The peers and what they do: each slot connects (round-robin over the gateways), registers with a real client's
/// presence, repeats it every <see cref="ChaosOptions.PresenceEvery"/> seconds, and sends directs (to a random other
/// live peer of its mesh), broadcasts and streams, each peer on its own phase. A socket that dies is replaced after a
/// pause, on the next gateway that accepts it.
/// </summary>
internal sealed class PeerTraffic(ChaosOptions options, string run, Random random)
{
    private readonly Lock _gate = new();
    private readonly List<Task> _reconnects = [];
    private int _nextUrl;
    private volatile bool _sending;

    public MeshSlot[] Slots { get; } = [.. Enumerable.Range(0, options.Peers)
        .Select(i => new MeshSlot(i / options.MeshSize, i % options.MeshSize, run))];

    /// <summary>Open sockets on the gateway listening on <paramref name="port"/>.</summary>
    public int SocketsOn(int port)
    {
        lock (_gate) return Slots.Count(s => s.Current is { } c && c.Url.Port == port);
    }

    public int Reconnects { get; private set; }
    public int Returned { get; private set; }
    public int Replaced { get; private set; }

    public async Task ConnectAllAsync(CancellationToken cancellation)
    {
        foreach (var batch in Slots.Chunk(50))
        {
            await Task.WhenAll(batch.Select(slot => ConnectAsync(slot, cancellation)));
        }
    }

    /// <summary>Sends the checked traffic until <paramref name="until"/> (run-clock seconds), then only presences, as
    /// idle clients do, so that nobody is reaped while the run is checked; ends when cancelled.</summary>
    public async Task RunAsync(double until, CancellationToken cancellation)
    {
        _sending = true;
        var start = RunClock.Now;
        var schedule = Slots.Select((slot, i) => new Timers(start, i / (double)Slots.Length, options)).ToArray();
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                var now = RunClock.Now;
                var checkedTraffic = now < until;
                _sending = checkedTraffic;
                for (var i = 0; i < Slots.Length; i++)
                {
                    if (Slots[i].Current is { } connection) Tick(Slots[i], connection, schedule[i], now, checkedTraffic);
                }

                await Task.Delay(50, cancellation);
            }
        }
        catch (OperationCanceledException)
        {
            // the run is over
        }
    }

    private void Tick(MeshSlot slot, ChaosConnection connection, Timers timers, double now, bool checkedTraffic)
    {
        if (now >= timers.Presence)
        {
            connection.Enqueue(OutKind.Presence);
            timers.Presence += options.PresenceEvery;
        }

        if (!checkedTraffic) return;
        if (now >= timers.Direct)
        {
            timers.Direct += options.DirectEvery;
            if (PickPartner(slot) is { } target) connection.Enqueue(OutKind.Direct, target);
        }

        if (now >= timers.Broadcast)
        {
            connection.Enqueue(OutKind.Broadcast);
            timers.Broadcast += options.BroadcastEvery;
        }

        if (now >= timers.Stream)
        {
            connection.Enqueue(OutKind.Stream);
            timers.Stream += options.StreamEvery;
        }
    }

    /// <summary>Waits for reconnects under way, then closes every socket as clients leaving do.</summary>
    public async Task CloseAllAsync()
    {
        Task[] pending;
        lock (_gate) pending = [.. _reconnects];
        await Task.WhenAll(pending);
        await Task.WhenAll(Slots.Select(s => s.Current?.CloseAsync() ?? Task.CompletedTask));
    }

    /// <summary>Directs go to a peer that has been registered for a while, as a real client only addresses peers it
    /// has seen; the checker decides whether the frame was due.</summary>
    private ChaosConnection? PickPartner(MeshSlot slot)
    {
        var mesh = slot.Mesh * options.MeshSize;
        var size = Math.Min(options.MeshSize, Slots.Length - mesh);
        var now = RunClock.Now;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            int other;
            lock (_gate) other = mesh + random.Next(size);
            if (Slots[other] == slot) continue;
            if (Slots[other].Current is { } target && now - target.OpenedAt >= ChaosChecker.RegistrationMargin) return target;
        }

        return null;
    }

    private async Task ConnectAsync(MeshSlot slot, CancellationToken cancellation)
    {
        for (var attempt = 0; !cancellation.IsCancellationRequested; attempt++)
        {
            Uri url;
            lock (_gate) url = options.Urls[_nextUrl++ % options.Urls.Length];
            var connection = new ChaosConnection(slot, slot.PeerId, url, run);
            lock (_gate) slot.Connections.Add(connection);
            try
            {
                await connection.OpenAsync(Lost, cancellation);
                return;
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException or HttpRequestException)
            {
                lock (_gate) slot.Connections.Remove(connection);
                connection.Dispose();
                if (attempt > 120) throw new InvalidOperationException($"{slot.PeerId} could not connect to any gateway", e);
                await Task.Delay(1000, cancellation);
            }
        }
    }

    /// <summary>The socket died (its gateway was killed): come back after a pause, as the same peer or a new one.</summary>
    private void Lost(ChaosConnection connection)
    {
        var slot = connection.Slot;
        double pause;
        bool returns;
        lock (_gate)
        {
            pause = options.ReconnectMin + random.NextDouble() * (options.ReconnectMax - options.ReconnectMin);
            returns = random.NextDouble() < options.ReturnShare;
            Reconnects++;
            if (returns) Returned++;
            else Replaced++;
        }

        var task = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(pause));
            lock (_gate)
            {
                if (!returns) slot.TakeNewId(run);
            }

            if (_sending) await ConnectAsync(slot, CancellationToken.None);
        });
        lock (_gate) _reconnects.Add(task);
    }

    private sealed class Timers(double start, double phase, ChaosOptions options)
    {
        public double Presence { get; set; } = start + phase * options.PresenceEvery;
        public double Direct { get; set; } = start + phase * options.DirectEvery;
        public double Broadcast { get; set; } = start + phase * options.BroadcastEvery;
        public double Stream { get; set; } = start + phase * options.StreamEvery;
    }
}

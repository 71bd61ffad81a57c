using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>
/// The relay client of the tests: a real <see cref="ClientWebSocket"/> whose background receive loop
/// keeps every text frame (parsed, plus its raw text) in a history that tests wait on with bounded waits.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="WaitForAsync"/> returns the first frame of the history that matches and was not returned by an
/// earlier wait ("consumes" it), so a test can wait for the same kind of frame several times. Every wait is
/// bounded; on timeout it throws with a dump of everything received, which is usually the whole diagnosis.
/// </para>
/// <para>
/// Absence is proved with barriers, never with sleeps: the relay keeps one sender's frames in order for every
/// receiver, so once a receiver has a marker sent after the frame that must not arrive, that frame would
/// already be in its history if it had been delivered (<see cref="MarkAsync"/>). A connection's own frames are
/// handled in order too, so once the answer to a later <c>capabilities</c> arrives, every answer (error,
/// snapshot) the relay had for earlier frames has arrived (<see cref="SyncAsync"/>).
/// </para>
/// <para>
/// Read in order instead, the history is a queue: <see cref="NextAsync"/> takes the oldest frame not yet returned,
/// <see cref="SkipToAsync"/> takes frames until one matches, <see cref="Drain"/> takes whatever is there.
/// </para>
/// <para>
/// Like the real browser clients, a test peer answers WebSocket pings while it reads (ClientWebSocket does)
/// and sends no keep-alive frames of its own unless <see cref="StartKeepAlive"/> is called.
/// </para>
/// </remarks>
public sealed class TestPeer : IAsyncDisposable
{
    /// <summary>Default bound of every wait.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The frame type of markers: not a type the relay knows, so it is routed like a broadcast and is
    /// not subject to echo suppression.</summary>
    public const string MarkerType = "test-marker";

    private readonly ClientWebSocket _socket;
    private readonly Lock _lock = new();
    private readonly List<JsonElement> _frames = [];
    private readonly List<string> _raw = [];
    private readonly List<bool> _consumed = [];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _age = Stopwatch.StartNew();
    private readonly List<TimeSpan> _arrivals = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _receiveLoop;
    private Task? _keepAlive;
    private int _binaryFrames;
    private int _disposed;

    private TestPeer(ClientWebSocket socket, string id, Uri uri)
    {
        _socket = socket;
        Id = id;
        Uri = uri;
    }

    /// <summary>The peer id this client uses as <c>from</c> in its presence.</summary>
    public string Id { get; }

    public Uri Uri { get; }

    public WebSocketState State => _socket.State;

    /// <summary>The close status the relay sent, once the connection ended (null if it was aborted).</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseDescription => _socket.CloseStatusDescription;

    /// <summary>True once the receive loop ended (close frame received, or the transport failed).</summary>
    public bool HasEnded => _ended.Task.IsCompleted;

    /// <summary>How the receive loop ended when the transport failed instead of closing.</summary>
    public Exception? EndError { get; private set; }

    /// <summary>Called by the receive loop for every text frame, awaited before the frame is added to the
    /// history (so a frame a test has seen was already reacted to). Used to make a peer behave like a real
    /// client, e.g. re-broadcast what it receives.</summary>
    public Func<TestPeer, JsonElement, Task>? OnFrame { get; set; }

    /// <summary>Every text frame received so far, in order.</summary>
    public IReadOnlyList<JsonElement> Received
    {
        get { lock (_lock) return [.. _frames]; }
    }

    /// <summary>The raw text of every text frame received so far, in order.</summary>
    public IReadOnlyList<string> ReceivedRaw
    {
        get { lock (_lock) return [.. _raw]; }
    }

    public int BinaryFramesReceived => Volatile.Read(ref _binaryFrames);

    /// <summary>Drops the history of received frames (so a test that measures memory does not count its own), once
    /// every assertion on it is done. Not while a wait on this peer is in progress.</summary>
    public void ForgetReceived()
    {
        lock (_lock)
        {
            _frames.Clear();
            _raw.Clear();
            _consumed.Clear();
            _arrivals.Clear();
        }
    }

    /// <summary>Connects and starts reading. <paramref name="peerId"/> defaults to a fresh unique id.</summary>
    public static Task<TestPeer> ConnectAsync(Uri uri, string? peerId = null) => ConnectAsync(uri, peerId, startReading: true);

    /// <summary>Connects; with <paramref name="startReading"/> false the client reads nothing (a stalled consumer,
    /// which also leaves the relay's pings unanswered) until <see cref="StartReading"/>.
    /// <paramref name="configure"/> may set request headers (e.g. Authorization); <paramref name="from"/> is the
    /// client's own address (another loopback address, e.g. 127.0.0.2, is another client as far as the relay
    /// can tell).</summary>
    public static async Task<TestPeer> ConnectAsync(Uri uri, string? peerId, bool startReading, Action<ClientWebSocketOptions>? configure = null,
        IPAddress? from = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var socket = new ClientWebSocket();
        // Browsers send no unsolicited keep-alive frames; they only answer the relay's pings.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await (from is null ? socket.ConnectAsync(uri, timeout.Token) : socket.ConnectAsync(uri, LocalAddress.Invoker(from), timeout.Token));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var peer = new TestPeer(socket, peerId ?? NewId("peer"), uri);
        if (startReading) peer.StartReading();
        return peer;
    }

    /// <summary>Connects with <paramref name="bearer"/> in an <c>Authorization: Bearer</c> header (none when null);
    /// fails the test when the relay refuses the upgrade (see <see cref="TryConnectAsync"/>).</summary>
    public static async Task<TestPeer> ConnectWithTokenAsync(Uri uri, string? bearer)
    {
        var (peer, status, _) = await TryConnectAsync(uri, bearer);
        Assert.True(peer is not null, $"upgrade refused with HTTP {(int?)status}");
        return peer!;
    }

    /// <summary>Connects (with <paramref name="bearer"/> as <see cref="ConnectWithTokenAsync"/> does) and starts
    /// reading, or returns the HTTP status and <c>WWW-Authenticate</c> of a refused upgrade.</summary>
    public static async Task<(TestPeer? Peer, HttpStatusCode? Status, string? WwwAuthenticate)> TryConnectAsync(Uri uri, string? bearer = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.CollectHttpResponseDetails = true;
        if (bearer is not null) socket.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch (WebSocketException)
        {
            var status = socket.HttpStatusCode;
            string? challenge = socket.HttpResponseHeaders is { } headers && headers.TryGetValue("WWW-Authenticate", out var values)
                ? string.Join(", ", values) : null;
            socket.Dispose();
            return (null, status, challenge);
        }
        var peer = new TestPeer(socket, NewId("peer"), uri);
        peer.StartReading();
        return (peer, HttpStatusCode.SwitchingProtocols, null);
    }

    /// <summary>A unique id with a readable prefix.</summary>
    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Starts the receive loop (once).</summary>
    public void StartReading()
    {
        lock (_lock)
        {
            _receiveLoop ??= Task.Run(ReceiveLoopAsync);
        }
    }

    // ---- sending ----

    public async Task SendAsync(string rawJson)
    {
        ArgumentNullException.ThrowIfNull(rawJson);
        await SendBytesAsync(Encoding.UTF8.GetBytes(rawJson), WebSocketMessageType.Text);
    }

    /// <summary>Sends <paramref name="frame"/> (typically an anonymous object) serialized with System.Text.Json.</summary>
    public Task SendAsync(object frame) => SendAsync(JsonSerializer.Serialize(frame));

    public Task SendBinaryAsync(byte[] payload) => SendBytesAsync(payload, WebSocketMessageType.Binary);

    /// <summary>Sends <paramref name="payload"/> as is (any bytes, even invalid UTF-8 in a text message) as one message
    /// split into fragments of <paramref name="pieceLengths"/> bytes (empty fragments allowed; whatever is left over
    /// goes into the last fragment, which ends the message).</summary>
    public async Task SendFragmentsAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, IReadOnlyList<int> pieceLengths)
    {
        ArgumentNullException.ThrowIfNull(pieceLengths);
        await _sendLock.WaitAsync();
        try
        {
            using var cts = new CancellationTokenSource(DefaultTimeout);
            var offset = 0;
            foreach (var length in pieceLengths)
            {
                var take = Math.Min(length, payload.Length - offset);
                await _socket.SendAsync(payload.Slice(offset, take), type, endOfMessage: false, cts.Token);
                offset += take;
            }
            await _socket.SendAsync(payload[offset..], type, endOfMessage: true, cts.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary><c>{"type":"presence","from":Id,"data":data}</c>; data defaults to <c>{}</c>.</summary>
    public Task PresenceAsync(object? data = null)
    {
        LastPresenceData = data;
        return SendAsync(new { type = "presence", from = Id, data = data ?? new { } });
    }

    /// <summary>The data of the last presence sent through <see cref="PresenceAsync"/> (what a keep-alive repeats).</summary>
    public object? LastPresenceData { get; private set; }

    public Task HeartbeatAsync() => SendAsync(new { type = "heartbeat", from = Id });

    /// <summary>Sends <c>{"type":"auth","token":...}</c>.</summary>
    public Task AuthAsync(string token) => SendAsync(new { type = "auth", token });

    /// <summary>Sends a presence as <paramref name="peerId"/> (data defaults to <c>{"name":peerId}</c>) and takes every
    /// frame until the answer to a capabilities sent after it (one sender's frames are handled in order). Returns the
    /// last relay error among them, if any.</summary>
    public async Task<JsonElement?> RegisterAsAsync(string peerId, object? data = null)
    {
        await SendAsync(new { type = "presence", from = peerId, data = data ?? new { name = peerId } });
        await SendAsync(new { type = "capabilities" });
        JsonElement? error = null;
        while (true)
        {
            var frame = await NextAsync();
            if (Frame.IsType(frame, "capabilities_response")) return error;
            if (Frame.IsType(frame, "error")) error = frame;
        }
    }

    /// <summary>Sends presence and waits until the relay processed it (see <see cref="SyncAsync"/>). Returns the
    /// relay-made presence frames (no <c>sender</c> stamp, unlike forwarded presence) that arrived meanwhile: the
    /// newcomer snapshot when this was the connection's first presence.</summary>
    public async Task<IReadOnlyList<JsonElement>> RegisterAsync(object? data = null, TimeSpan? timeout = null)
    {
        int before;
        lock (_lock) before = _frames.Count;
        await PresenceAsync(data);
        var response = await SyncAsync(timeout);
        lock (_lock)
        {
            var end = _frames.FindIndex(before, f => f.ValueKind == JsonValueKind.Object && ReferenceEqualsJson(f, response));
            return [.. _frames.Skip(before).Take((end < 0 ? _frames.Count : end) - before)
                .Where(f => Frame.IsType(f, "presence") && !f.TryGetProperty("sender", out _))];
        }
    }

    /// <summary>
    /// Round trip through the relay's handling of this connection: sends <c>capabilities</c> and waits for its
    /// <c>capabilities_response</c>. The relay handles one connection's frames in order and queues its answers in
    /// order, so afterwards every answer to earlier frames (errors, snapshot) has been received.
    /// </summary>
    public async Task<JsonElement> SyncAsync(TimeSpan? timeout = null)
    {
        await SendAsync(new { type = "capabilities" });
        return await WaitForAsync(f => Frame.IsType(f, "capabilities_response"), timeout, "capabilities_response (sync)");
    }

    /// <summary>A round trip with the relay like <see cref="SyncAsync"/>, taking every frame up to its answer.</summary>
    public async Task SkipToSyncAsync()
    {
        await SendAsync(new { type = "capabilities" });
        await SkipToAsync(f => Frame.IsType(f, "capabilities_response"));
    }

    /// <summary>
    /// Barrier: broadcasts a unique marker and waits until every receiver has it. Since the relay keeps this
    /// sender's frames in order, any frame this peer sent earlier that was going to reach a receiver has reached
    /// it. Returns the marker id.
    /// </summary>
    public async Task<string> MarkAsync(params TestPeer[] receivers)
    {
        ArgumentNullException.ThrowIfNull(receivers);
        var marker = Guid.NewGuid().ToString("N");
        await SendAsync(new { type = MarkerType, data = new { marker } });
        foreach (var receiver in receivers)
        {
            await receiver.WaitForAsync(f => Frame.IsMarker(f, marker), description: $"marker {marker} from {Id}");
        }
        return marker;
    }

    /// <summary>Barrier like <see cref="MarkAsync"/> with a <c>direct</c> to one peer id.</summary>
    public async Task DirectMarkAsync(TestPeer receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        var marker = Guid.NewGuid().ToString("N");
        await SendAsync(new { type = "direct", to = receiver.Id, data = new { marker } });
        await receiver.WaitForAsync(f => Frame.IsType(f, "direct") && Frame.MarkerOf(f) == marker, description: $"direct marker {marker} from {Id}");
    }

    /// <summary>Sends a heartbeat (or, like the real clients, its presence again: <paramref name="presenceData"/>, by
    /// default the data of its last presence) every <paramref name="interval"/> until disposed or the socket fails,
    /// so this peer is never reaped by short stale timeouts (liveness, not synchronisation).</summary>
    public void StartKeepAlive(TimeSpan interval, bool usePresence = false, object? presenceData = null)
    {
        _keepAlive ??= Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    await Task.Delay(interval, _stop.Token);
                    if (usePresence) await PresenceAsync(presenceData ?? LastPresenceData);
                    else await HeartbeatAsync();
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                // stopped, or the connection is gone
            }
        });
    }

    // ---- waiting ----

    /// <summary>Waits (bounded, default 10 s) for the first frame not returned before that matches, and returns it.
    /// Throws with a dump of the received frames on timeout or when the connection ended first.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> predicate, TimeSpan? timeout = null, string? description = null)
    {
        var frames = await WaitForCountAsync(predicate, 1, timeout, description);
        return frames[0];
    }

    /// <summary>Waits for <paramref name="count"/> not yet returned frames that match; returns (consumes) them in order.</summary>
    public async Task<IReadOnlyList<JsonElement>> WaitForCountAsync(Func<JsonElement, bool> predicate, int count, TimeSpan? timeout = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var limit = timeout ?? DefaultTimeout;
        var deadline = Stopwatch.StartNew();
        // Frames already looked at never match later (predicates look at the frame only), so each pass resumes
        // where the previous one stopped; waiting for one frame among thousands stays linear.
        var found = new List<int>();
        var scanned = 0;
        using var expiry = new CancellationTokenSource();
        var expired = Task.Delay(limit, expiry.Token);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (found.Exists(i => _consumed[i]))
                {
                    // A concurrent wait took one of ours: look again from the start.
                    found.Clear();
                    scanned = 0;
                }
                for (; scanned < _frames.Count && found.Count < count; scanned++)
                {
                    if (!_consumed[scanned] && Matches(predicate, _frames[scanned])) found.Add(scanned);
                }
                if (found.Count == count)
                {
                    foreach (var i in found) _consumed[i] = true;
                    expiry.Cancel();
                    return [.. found.Select(i => _frames[i])];
                }
                if (_ended.Task.IsCompleted)
                {
                    throw new TimeoutException(
                        $"{Id}: connection ended ({Ended()}) before {Describe(description, count)} arrived (found {found.Count}).\n{Dump()}");
                }
                changed = _changed.Task;
            }
            var remaining = limit - deadline.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{Id}: no {Describe(description, count)} within {limit.TotalSeconds:0.#} s (found {found.Count}).\n{Dump()}");
            }
            await Task.WhenAny(changed, expired);
        }
    }

    /// <summary>The oldest frame not yet returned (waiting, bounded, for one).</summary>
    public Task<JsonElement> NextAsync() => WaitForAsync(_ => true, description: "any frame");

    /// <summary>Takes frames in order until one matches, and returns it.</summary>
    public async Task<JsonElement> SkipToAsync(Func<JsonElement, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        while (true)
        {
            var frame = await NextAsync();
            if (match(frame)) return frame;
        }
    }

    /// <summary>Takes the frames received and not yet returned (no waiting).</summary>
    public List<JsonElement> Drain()
    {
        lock (_lock)
        {
            var frames = new List<JsonElement>();
            for (var i = 0; i < _frames.Count; i++)
            {
                if (_consumed[i]) continue;
                _consumed[i] = true;
                frames.Add(_frames[i]);
            }
            return frames;
        }
    }

    /// <summary>Waits (bounded) until the relay closes the connection: its close status and reason, or (null, why)
    /// when the transport ended without a close.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Reason)> ClosedAsync()
    {
        var status = await WaitForCloseAsync(DefaultTimeout);
        return EndError is null ? (status, CloseDescription) : (null, "transport ended: " + EndError.Message);
    }

    /// <summary>Waits (bounded) for the connection to end; returns the relay's close status (null when the
    /// transport was aborted). Throws on timeout.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(_ended.Task, Task.Delay(timeout)) != _ended.Task)
        {
            throw new TimeoutException($"{Id}: the connection did not end within {timeout.TotalSeconds:0.#} s (state {State}).\n{Dump()}");
        }
        return await _ended.Task;
    }

    /// <summary>Frames received so far (consumed or not) that match.</summary>
    public IReadOnlyList<JsonElement> All(Func<JsonElement, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        lock (_lock) return [.. _frames.Where(f => Matches(predicate, f))];
    }

    public int Count(Func<JsonElement, bool> predicate) => All(predicate).Count;

    /// <summary>When (since this peer was created) the frame was received; for timing assertions.</summary>
    public TimeSpan ArrivalOf(JsonElement frame)
    {
        lock (_lock)
        {
            var index = _frames.FindIndex(f => ReferenceEqualsJson(f, frame));
            return index < 0 ? throw new ArgumentException("frame not received by this peer", nameof(frame)) : _arrivals[index];
        }
    }

    /// <summary>Time since this peer was created (same clock as <see cref="ArrivalOf"/>).</summary>
    public TimeSpan Age => _age.Elapsed;

    /// <summary>The last frames received, raw, for assertion messages.</summary>
    public string Dump(int last = 40)
    {
        lock (_lock)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"{Id} received {_raw.Count} text frame(s), {_binaryFrames} binary; state {_socket.State}; {Ended()}");
            var skip = Math.Max(0, _raw.Count - last);
            if (skip > 0) sb.Append(CultureInfo.InvariantCulture, $"\n  ... {skip} earlier frame(s) omitted");
            for (var i = skip; i < _raw.Count; i++)
            {
                var raw = _raw[i].Length > 400 ? $"{_raw[i][..150]} ...({_raw[i].Length} chars)... {_raw[i][^150..]}" : _raw[i];
                sb.Append(CultureInfo.InvariantCulture, $"\n  [{i}]{(_consumed[i] ? "*" : " ")} {raw}");
            }
            return sb.ToString();
        }
    }

    // ---- closing ----

    /// <summary>Closes the connection normally and waits (bounded) for the relay's close.</summary>
    public async Task CloseAsync(TimeSpan? timeout = null)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await _sendLock.WaitAsync();
            try
            {
                using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        if (_receiveLoop is not null) await WaitForCloseAsync(timeout ?? DefaultTimeout);
    }

    /// <summary>Drops the transport without a close handshake (like a killed browser).</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync();
        try
        {
            if (_socket.State == WebSocketState.Open && _receiveLoop is not null)
            {
                await CloseAsync(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // best effort
        }
        _socket.Abort();
        if (_receiveLoop is not null) await Task.WhenAny(_receiveLoop, Task.Delay(TimeSpan.FromSeconds(2)));
        if (_keepAlive is not null) await Task.WhenAny(_keepAlive, Task.Delay(TimeSpan.FromSeconds(2)));
        _socket.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
    }

    public override string ToString() => Id;

    // ---- internals ----

    private async Task SendBytesAsync(byte[] bytes, WebSocketMessageType type)
    {
        await _sendLock.WaitAsync();
        try
        {
            using var cts = new CancellationTokenSource(DefaultTimeout);
            await _socket.SendAsync(bytes, type, endOfMessage: true, cts.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketCloseStatus? status = null;
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    status = result.CloseStatus;
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        // Complete the handshake, as browsers do.
                        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                        await _sendLock.WaitAsync(cts.Token);
                        try
                        {
                            await _socket.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "", cts.Token);
                        }
                        finally
                        {
                            _sendLock.Release();
                        }
                    }
                    break;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    Interlocked.Increment(ref _binaryFrames);
                }
                else
                {
                    var raw = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                    JsonElement parsed;
                    try
                    {
                        using var document = JsonDocument.Parse(raw);
                        parsed = document.RootElement.Clone();
                    }
                    catch (JsonException)
                    {
                        // Keep it visible: the relay must only ever send JSON, a test asserting on it will fail.
                        parsed = JsonSerializer.SerializeToElement(new { type = "test-unparseable-frame", raw });
                    }
                    // The reaction runs before the frame becomes visible to waits: once a test sees the frame,
                    // whatever the peer sent in reaction to it is already on the wire (ahead of later sends).
                    if (OnFrame is { } onFrame) await onFrame(this, parsed);
                    Add(parsed, raw);
                }
                message.SetLength(0);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            EndError = ex;
            status = _socket.CloseStatus;
        }
        finally
        {
            _ended.TrySetResult(status);
            Pulse();
        }
    }

    private void Add(JsonElement frame, string raw)
    {
        lock (_lock)
        {
            _frames.Add(frame);
            _raw.Add(raw);
            _consumed.Add(false);
            _arrivals.Add(_age.Elapsed);
        }
        Pulse();
    }

    private void Pulse()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        previous.TrySetResult();
    }

    private string Ended() => _ended.Task.IsCompleted
        ? $"ended: close status {_socket.CloseStatus?.ToString() ?? "none"} '{_socket.CloseStatusDescription}'{(EndError is null ? "" : $", {EndError.GetType().Name}: {EndError.Message}")}"
        : "open";

    private static string Describe(string? description, int count) =>
        (count == 1 ? "" : $"{count} x ") + (description ?? "matching frame");

    private static bool Matches(Func<JsonElement, bool> predicate, JsonElement frame)
    {
        try
        {
            return predicate(frame);
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    // Every frame is its own cloned document, and a JsonElement is that document plus a position: the struct's
    // default equality compares those two fields, so it tells apart two frames with the same text (a relay
    // answer repeats itself to the millisecond), which comparing raw text did not.
    private static bool ReferenceEqualsJson(JsonElement a, JsonElement b) => ((object)a).Equals(b);
}

/// <summary>Predicates and accessors for relay frames (all tolerant of missing or mistyped fields).</summary>
public static class Frame
{
    public static string? Str(JsonElement frame, string property) =>
        frame.ValueKind == JsonValueKind.Object && frame.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static string? Type(JsonElement frame) => Str(frame, "type");

    public static string? From(JsonElement frame) => Str(frame, "from");

    public static string? Sender(JsonElement frame) => Str(frame, "sender");

    public static bool IsType(JsonElement frame, string type) => Type(frame) == type;

    public static JsonElement? Data(JsonElement frame) =>
        frame.ValueKind == JsonValueKind.Object && frame.TryGetProperty("data", out var data) ? data : null;

    public static string? DataStr(JsonElement frame, string property) =>
        Data(frame) is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    /// <summary>A presence naming <paramref name="peerId"/> that is not an offline notice.</summary>
    public static bool IsPresenceOf(JsonElement frame, string peerId) =>
        IsType(frame, "presence") && From(frame) == peerId && !IsOffline(frame);

    /// <summary>Any presence naming <paramref name="peerId"/> (online or offline).</summary>
    public static bool NamesPeer(JsonElement frame, string peerId) =>
        (IsType(frame, "presence") || IsType(frame, "heartbeat")) && From(frame) == peerId;

    public static bool IsOffline(JsonElement frame) =>
        IsType(frame, "presence") && DataStr(frame, "status") == "offline";

    public static bool IsOfflineOf(JsonElement frame, string peerId) => IsOffline(frame) && From(frame) == peerId;

    public static string? MarkerOf(JsonElement frame) => DataStr(frame, "marker");

    public static bool IsMarker(JsonElement frame, string marker) =>
        IsType(frame, TestPeer.MarkerType) && MarkerOf(frame) == marker;

    public static bool IsError(JsonElement frame, string code) =>
        IsType(frame, "error") && From(frame) == "relay" && DataStr(frame, "code") == code;

    /// <summary>The <c>data.code</c> of an error frame (null for any other frame).</summary>
    public static string? ErrorCode(JsonElement frame) => IsType(frame, "error") ? DataStr(frame, "code") : null;

    public static bool IsRelayError(JsonElement frame) => IsType(frame, "error") && From(frame) == "relay";

    /// <summary>A frame whose data.seq (number) equals <paramref name="seq"/>.</summary>
    public static long? Seq(JsonElement frame) =>
        Data(frame) is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("seq", out var seq) && seq.ValueKind == JsonValueKind.Number
            ? seq.GetInt64()
            : null;

    public static long? DataCount(JsonElement frame) =>
        Data(frame) is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("count", out var count) && count.ValueKind == JsonValueKind.Number
            ? count.GetInt64()
            : null;
}

// Soak load for bench/soak.sh: many agimesh peers held for a long time, as the real clients behave (presence every
// 10 s, no heartbeat), with steady direct and broadcast traffic. Prints one JSON line per window on stdout
// (latency percentiles, loss, order, unexpected offline/close/error counts) and a final summary line.
//
//   node bench/soak.mjs --url ws://a/ws,ws://b/ws --peers 2000 --mesh-size 20 --duration 600 --window 30 \
//        [--direct-every 2] [--broadcast-every 2] [--presence-every 10] [--grace 10] [--settle 120] [--connect-concurrency 50]
//
// Peers are spread round-robin over the URLs and grouped into meshes of --mesh-size; a peer's direct partner is the
// next peer of its mesh, on the other gateway when there are two, so directs cross nodes. Every message carries
// {seq, t} (t: this process's monotonic clock), so latency is receive time minus t on one clock. Per sender and
// receiver the last seq is kept: a lower one is reordered, an equal one duplicated; at the end, distinct deliveries
// are compared with the expected ones (missing). `ws` comes from the meshbench copy, where soak.sh runs this file.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
}, []));
const urls = (args.url ?? 'ws://127.0.0.1:8080/ws').split(',');
const peerCount = Number(args.peers ?? 2000);
const meshSize = Number(args['mesh-size'] ?? 20);
const duration = Number(args.duration ?? 600) * 1000;
const windowMs = Number(args.window ?? 30) * 1000;
const directEvery = Number(args['direct-every'] ?? 2) * 1000;
const broadcastEvery = Number(args['broadcast-every'] ?? 2) * 1000;
const presenceEvery = Number(args['presence-every'] ?? 10) * 1000;
const grace = Number(args.grace ?? 10) * 1000;
const concurrency = Number(args['connect-concurrency'] ?? 50);
const settle = Number(args.settle ?? 120) * 1000;
const run = Math.random().toString(36).slice(2, 8);

const now = () => performance.now();
const log = (line) => process.stderr.write(`soak: ${line}\n`);

/** One window's figures (reset every --window). */
function freshWindow() {
    return { direct: [], broadcast: [], sent: 0, received: 0, reordered: 0, duplicated: 0, offline: 0, closed: 0, errors: 0 };
}
let win = freshWindow();
const totals = { sent: 0, expected: 0, received: 0, reordered: 0, duplicated: 0, offline: 0, closed: 0, errors: 0, errorCodes: {} };

const peers = [];
for (let i = 0; i < peerCount; i++) {
    const mesh = `soak-${run}-${Math.floor(i / meshSize)}`;
    peers.push({ i, id: `p${i}-${run}`, mesh, url: urls[i % urls.length], seq: 0, last: new Map(), seen: new Set(), ws: null, open: false });
}
const meshes = new Map();
for (const p of peers) (meshes.get(p.mesh) ?? meshes.set(p.mesh, []).get(p.mesh)).push(p);

function connect(peer) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${peer.url}?mesh=${peer.mesh}`, { perMessageDeflate: false });
        peer.ws = ws;
        ws.on('open', () => {
            peer.open = true;
            // Presence from the start, as the real clients do: connecting all peers may take longer than the stale
            // timeout. Each peer keeps its own 10 s period, so the load spreads as the connections did.
            presence(peer);
            timers.push(setInterval(() => presence(peer), presenceEvery));
            resolve();
        });
        ws.on('message', (raw) => onMessage(peer, raw));
        ws.on('close', () => {
            if (peer.open && !stopping) { win.closed++; totals.closed++; }
            peer.open = false;
        });
        ws.on('error', (e) => { if (!peer.open) reject(e); });
    });
}

function presence(peer) {
    if (peer.open) peer.ws.send(JSON.stringify({ type: 'presence', from: peer.id, data: { agents: [], role: 'soak' } }));
}

function onMessage(peer, raw) {
    const frame = JSON.parse(raw.toString());
    if (frame.type === 'presence') {
        if (frame.data?.status === 'offline') { if (!stopping) { win.offline++; totals.offline++; } }
        else peer.seen.add(frame.from);
        return;
    }
    if (frame.type === 'error' && frame.from === 'relay' && frame.sender === undefined) {
        win.errors++; totals.errors++;
        totals.errorCodes[frame.data?.code] = (totals.errorCodes[frame.data?.code] ?? 0) + 1;
        return;
    }
    const data = frame.data;
    if (!data || data.run !== run) return;
    const latency = now() - data.t;
    (frame.type === 'direct' ? win.direct : win.broadcast).push(latency);
    win.received++; totals.received++;
    const last = peer.last.get(frame.sender) ?? -1;
    if (data.seq === last) { win.duplicated++; totals.duplicated++; }
    else if (data.seq < last) { win.reordered++; totals.reordered++; }
    else peer.last.set(frame.sender, data.seq);
}

function send(peer, frame, receivers) {
    if (!peer.open) return;
    const seq = peer.seq++;
    frame.data = { run, seq, t: now(), pad: 'x'.repeat(128) };
    peer.ws.send(JSON.stringify(frame));
    win.sent++; totals.sent++;
    totals.expected += receivers.length;
}

function partnerOf(peer) {
    const members = meshes.get(peer.mesh);
    return members[(members.indexOf(peer) + 1) % members.length];
}

function percentile(sorted, q) {
    return sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
}
function latencies(values) {
    const sorted = Float64Array.from(values).sort();
    return { n: sorted.length, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: percentile(sorted, 1) };
}

let stopping = false;
const timers = [];
const started = Date.now();
log(`connecting ${peerCount} peers over ${urls.length} URL(s), ${meshes.size} meshes`);
for (let k = 0; k < peers.length; k += concurrency) {
    await Promise.all(peers.slice(k, k + concurrency).map(connect));
}
log(`connected in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting until every peer has seen its whole mesh`);
// Like meshbench: nobody sends before it has seen the presence of every receiver (bounded by --settle).
const settled = Date.now();
while (peers.some(p => p.seen.size < meshes.get(p.mesh).length - 1) && Date.now() - settled < settle) {
    await new Promise(resolve => setTimeout(resolve, 200));
}
log(`mesh views complete after ${((Date.now() - settled) / 1000).toFixed(1)} s (${peers.filter(p => p.seen.size < meshes.get(p.mesh).length - 1).length} peers incomplete)`);

// Every peer gets its own phase, so load is spread evenly over each period.
const t0 = now();
for (const peer of peers) {
    const phase = (peer.i / peerCount);
    timers.push(setTimeout(() => timers.push(setInterval(() => {
        const partner = partnerOf(peer);
        send(peer, { type: 'direct', to: partner.id }, [partner]);
    }, directEvery)), phase * directEvery));
}
for (const [, members] of meshes) {
    let turn = 0;
    const phase = Math.random();
    timers.push(setTimeout(() => timers.push(setInterval(() => {
        const sender = members[turn++ % members.length];
        send(sender, { type: 'broadcast' }, members.filter(m => m !== sender));
    }, broadcastEvery)), phase * broadcastEvery));
}

const windowTimer = setInterval(() => {
    const line = {
        t_s: Math.round((now() - t0) / 1000), sent: win.sent, received: win.received,
        direct_ms: latencies(win.direct), broadcast_ms: latencies(win.broadcast),
        reordered: win.reordered, duplicated: win.duplicated, offline: win.offline, closed: win.closed, errors: win.errors,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    win = freshWindow();
}, windowMs);

await new Promise(resolve => setTimeout(resolve, duration));
for (const timer of timers) { clearTimeout(timer); clearInterval(timer); }
log(`sending stopped; ${grace / 1000} s grace for frames in flight`);
await new Promise(resolve => setTimeout(resolve, grace));
clearInterval(windowTimer);

// Distinct deliveries vs expected: every expected delivery arrived iff received - duplicated == expected.
const missing = totals.expected - (totals.received - totals.duplicated);
stopping = true;
for (const peer of peers) peer.ws?.close();
process.stdout.write(JSON.stringify({
    summary: true, peers: peerCount, meshes: meshes.size, duration_s: duration / 1000, sent: totals.sent,
    expected_deliveries: totals.expected, received: totals.received, missing, reordered: totals.reordered,
    duplicated: totals.duplicated, offline: totals.offline, closed: totals.closed, errors: totals.errors, error_codes: totals.errorCodes,
}) + '\n');
setTimeout(() => process.exit(missing === 0 && totals.reordered === 0 && totals.closed === 0 && totals.offline === 0 ? 0 : 1), 2000);

// One load worker of bench/scale/scale.mjs (forked by it, commands over IPC). It owns whole meshes, so every check
// (order, loss, duplication, offline) is made inside one process on one clock; its sockets are bound to the loopback
// source addresses it is given, one after the other, so that no address runs out of ports.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const now = () => performance.now();
const config = JSON.parse(process.argv[2]);
const { run, meshSize, urls, sources, heartbeatMs } = config;

// ~200 bytes of metadata, as the real clients' presence carries (status, agents with 2-3 names, hostname).
const AGENT_SETS = [['chat', 'agi'], ['chat', 'agi', 'coder'], ['agi', 'planner', 'search']];
function metadata(peer) {
    return {
        status: 'online',
        agents: AGENT_SETS[peer.index % AGENT_SETS.length],
        hostname: `devbox-${String(peer.index).padStart(6, '0')}.lan`,
        platform: 'Linux x86_64',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
        version: '0.9.4',
    };
}

/** Every peer of this worker; meshes[m] lists the peers of mesh m (whole meshes only). */
const peers = [];
const meshes = [];
for (const m of config.meshes) {
    const members = [];
    for (let j = 0; j < meshSize; j++) {
        const index = m * meshSize + j;
        const peer = {
            index, id: `p${index}-${run}`, mesh: `scale-${run}-${m}`, members, url: urls[index % urls.length],
            localAddress: sources[index % sources.length], ws: null, open: false, leaving: false, gone: false,
            seen: new Set(), seq: 0, last: new Map(), registeredAt: null, offlines: new Map(),
        };
        members.push(peer);
        peers.push(peer);
    }
    meshes.push(members);
}
const byId = new Map(peers.map(p => [p.id, p]));

const counts = {
    refused: 0, refusedStatus: {}, retries: 0, connectErrors: 0, closed: 0, falseOffline: 0, errors: 0, errorCodes: {},
    sent: 0, expected: 0, received: 0, duplicated: 0, reordered: 0, foreign: 0, foreignTypes: {}, falseOfflineIn: {},
};
let latencies = [];
// The phase the coordinator last started (connect, steady, overflow, depart): where a false offline was heard.
let phase = 'connect';
let t0 = now();
const send = (ws, frame) => ws.send(JSON.stringify(frame));
const report = (message) => process.send(message);

function onMessage(peer, raw) {
    const frame = JSON.parse(raw.toString());
    if (frame.type === 'presence') {
        const from = byId.get(frame.from);
        if (!from || from.members !== peer.members) { foreign(frame); return; }
        if (frame.data?.status === 'offline') {
            if (!from.leaving) {
                counts.falseOffline++;
                counts.falseOfflineIn[phase] = (counts.falseOfflineIn[phase] ?? 0) + 1;
            }
            else {
                const times = peer.offlines.get(from.id) ?? [];
                times.push(now());
                peer.offlines.set(from.id, times);
            }
            return;
        }
        if (from.leaving) { foreign(frame); return; } // a word about a departed peer
        peer.seen.add(frame.from);
        if (peer.registeredAt === null && peer.seen.size === meshSize - 1) peer.registeredAt = now() - t0;
        return;
    }
    if (frame.type === 'error' && frame.from === 'relay') {
        counts.errors++;
        counts.errorCodes[frame.data?.code] = (counts.errorCodes[frame.data?.code] ?? 0) + 1;
        return;
    }
    if (frame.type === 'capabilities_response') return;
    const data = frame.data;
    if (!data || data.run !== run) { foreign(frame); return; }
    counts.received++;
    if (frame.type === 'direct') latencies.push(now() - data.t);
    const last = peer.last.get(frame.sender) ?? -1;
    if (data.seq === last) counts.duplicated++;
    else if (data.seq < last) counts.reordered++;
    else peer.last.set(frame.sender, data.seq);
}

/** A frame no peer should get: from another mesh or run, or a presence naming a peer after its offline. */
function foreign(frame) {
    counts.foreign++;
    counts.foreignTypes[frame.type] = (counts.foreignTypes[frame.type] ?? 0) + 1;
}

// In the connect storm a 503 with Retry-After (a node that runs behind, Relay:ShedWhenLaggingAbove, or a full one) is
// tried again after it, at most MAX_RETRIES times a peer: the storm is an operator's fleet that keeps coming back, and
// the question is whether it gets in at what the nodes can serve. Its lane waits meanwhile, so the concurrency holds.
// (Real clients do not retry a refused upgrade by themselves; the overflow phase counts refusals, so it does not.)
const MAX_RETRIES = 60;

async function connectRetrying(peer) {
    for (let attempt = 0; ; attempt++) {
        const retryAfter = await connect(peer, attempt < MAX_RETRIES);
        if (retryAfter === null) return;
        counts.retries++;
        peer.gone = false;
        await sleep(retryAfter * 1000);
    }
}

/** Opens the peer's socket; resolves null, or (when retryable) the Retry-After seconds of a 503 to try again after. */
function connect(peer, retryable = false) {
    return new Promise((resolve) => {
        const ws = new WebSocket(`${peer.url}?mesh=${peer.mesh}`, { perMessageDeflate: false, localAddress: peer.localAddress, handshakeTimeout: 60_000 });
        peer.ws = ws;
        ws.on('open', () => {
            peer.open = true;
            // The real clients' order: capabilities before the first presence.
            send(ws, { type: 'capabilities' });
            send(ws, { type: 'presence', from: peer.id, data: metadata(peer) });
            resolve(null);
        });
        ws.on('unexpected-response', (_request, response) => {
            const retryAfter = Number(response.headers['retry-after']);
            if (retryable && response.statusCode === 503 && retryAfter > 0) {
                response.resume();
                ws.terminate();
                peer.gone = true;
                resolve(retryAfter);
                return;
            }
            counts.refused++;
            counts.refusedStatus[response.statusCode] = (counts.refusedStatus[response.statusCode] ?? 0) + 1;
            response.resume();
            ws.terminate();
            peer.gone = true;
            resolve(null);
        });
        ws.on('message', (raw) => onMessage(peer, raw));
        ws.on('close', () => {
            if (peer.open && !peer.leaving && !stopping) counts.closed++;
            peer.open = false;
        });
        ws.on('error', () => {
            if (!peer.open && !peer.gone) { counts.connectErrors++; peer.gone = true; resolve(null); }
        });
    });
}

// Heartbeats: a 100 ms tick sends the slices of peers that came due, so each peer beats every heartbeatMs, phases
// spread. Due slices are counted from the clock, not from ticks: a worker busy for seconds (a connect storm's
// presences to parse) catches up on the slices it missed instead of leaving their peers silent for a whole round.
let stopping = false;
let beat = 0;
const slices = Math.max(1, Math.round(heartbeatMs / 100));
const beatsFrom = now();
const heartbeats = setInterval(() => {
    for (const due = Math.floor((now() - beatsFrom) / 100); beat <= due; beat++) {
        for (let i = beat % slices; i < peers.length; i += slices) {
            const peer = peers[i];
            if (peer.open && !peer.leaving) send(peer.ws, { type: 'heartbeat', from: peer.id });
        }
    }
}, 100);

async function connectAll(concurrency) {
    t0 = now();
    let next = 0;
    const lane = async () => { while (next < peers.length) await connectRetrying(peers[next++]); };
    await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, lane));
    report({ event: 'connected', seconds: (now() - t0) / 1000, open: peers.filter(p => p.open).length, ...pick(counts, 'refused', 'refusedStatus', 'retries', 'connectErrors') });
    const deadline = now() + config.registerTimeoutMs;
    while (now() < deadline && peers.some(p => p.open && p.registeredAt === null && p.members.every(m => m.open || m.gone))) {
        await sleep(100);
    }
    const registered = peers.filter(p => p.registeredAt !== null);
    report({
        event: 'registered', registered: registered.length,
        lastSeconds: registered.reduce((max, p) => Math.max(max, p.registeredAt), 0) / 1000,
    });
}

/** Steady traffic: this worker's share of the direct and broadcast rates, each frame from a random live peer. */
async function steady(seconds, directRate, broadcastRate, graceMs) {
    latencies = [];
    const live = peers.filter(p => p.open);
    const start = now();
    let directs = 0, broadcasts = 0;
    const pickLive = () => live[Math.floor(Math.random() * live.length)];
    const sendOne = (kind) => {
        const peer = pickLive();
        if (!peer?.open) return;
        const data = { run, seq: peer.seq++, t: now(), text: 'x'.repeat(64) };
        if (kind === 'direct') {
            const partner = peer.members[(peer.members.indexOf(peer) + 1) % meshSize];
            if (!partner.open) return;
            send(peer.ws, { type: 'direct', from: peer.id, to: 'chat', targetInstanceId: partner.id, data });
            counts.expected++;
        } else {
            send(peer.ws, { type: 'broadcast', from: peer.id, data });
            counts.expected += peer.members.filter(m => m !== peer && m.open).length;
        }
        counts.sent++;
    };
    while (now() - start < seconds * 1000) {
        const elapsed = (now() - start) / 1000;
        while (directs < directRate * elapsed) { sendOne('direct'); directs++; }
        while (broadcasts < broadcastRate * elapsed) { sendOne('broadcast'); broadcasts++; }
        await sleep(10);
    }
    await sleep(graceMs);
    report({
        event: 'steady', latencies: Array.from(latencies), open: peers.filter(p => p.open).length,
        ...pick(counts, 'sent', 'expected', 'received', 'duplicated', 'reordered', 'closed', 'falseOffline', 'errors', 'errorCodes', 'foreign'),
    });
}

/** Closes `count` peers at once, spread over the meshes (one of each before a second of any, never a mesh's last);
 * afterwards every live member of their meshes must hear each offline exactly once (waited for up to 30 s past
 * windowMs; later than windowMs counts as late). */
async function depart(count, windowMs, graceMs) {
    const leaving = [];
    for (let j = 0; j < meshSize - 1 && leaving.length < count; j++) {
        for (const members of meshes) {
            if (leaving.length === count) break;
            if (members[j].open) leaving.push(members[j]);
        }
    }
    for (const p of leaving) p.leaving = true;
    const start = now();
    for (const p of leaving) p.ws.close(1000);
    // Waits for every offline (bounded), late or not, then a grace for any second one.
    const heard = () => leaving.every(gone => gone.members.every(m => m.leaving || !m.open || m.offlines.has(gone.id)));
    while (!heard() && now() - start < windowMs + 30_000) await sleep(100);
    await sleep(graceMs);
    let expected = 0, once = 0, twice = 0, missing = 0, late = 0, maxMs = 0;
    const offlineMs = [];
    for (const gone of leaving) {
        for (const member of gone.members) {
            if (member.leaving || !member.open) continue;
            expected++;
            const times = member.offlines.get(gone.id) ?? [];
            if (times.length === 0) { missing++; continue; }
            if (times.length > 1) twice++;
            else once++;
            const ms = times[0] - start;
            maxMs = Math.max(maxMs, ms);
            offlineMs.push(Math.round(ms));
            if (ms > windowMs) late++;
        }
    }
    report({ event: 'departed', left: leaving.length, expected, once, twice, missing, late, maxMs, offlineMs, ...pick(counts, 'falseOffline', 'falseOfflineIn', 'foreign', 'foreignTypes', 'closed', 'errors', 'errorCodes') });
}

/** Opens `count` more upgrades than the node is expected to hold (registering in meshes of their own) and counts what
 * was accepted and what refused (HTTP status). The accepted ones stay open until the coordinator sends
 * `release-overflow`, once every worker has counted: a worker that closed its own at once would free slots for the
 * attempts other workers are still making. The peers' false offline counts on. */
let overflowPeers = [];
async function overflow(count, concurrency) {
    const extra = Array.from({ length: count }, (_, k) => ({
        index: -1 - k, id: `x${process.pid}-${k}-${run}`, mesh: `scale-${run}-overflow-${process.pid}-${k}`,
        members: [], url: urls[k % urls.length], localAddress: sources[k % sources.length], ws: null, open: false,
        leaving: true, gone: false, seen: new Set(), seq: 0, last: new Map(), registeredAt: null, offlines: new Map(),
    }));
    const before = pick(counts, 'refused', 'connectErrors');
    let next = 0;
    const lane = async () => { while (next < extra.length) await connect(extra[next++]); };
    await Promise.all(Array.from({ length: Math.min(concurrency, extra.length) }, lane));
    const accepted = extra.filter(p => p.open).length;
    overflowPeers = extra;
    report({
        event: 'overflow', attempted: count, accepted, refused: counts.refused - before.refused,
        connectErrors: counts.connectErrors - before.connectErrors, refusedStatus: counts.refusedStatus,
    });
}

function pick(object, ...keys) { return Object.fromEntries(keys.map(k => [k, object[k]])); }
function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }

process.on('message', async (command) => {
    phase = command.cmd;
    switch (command.cmd) {
        case 'connect': await connectAll(command.concurrency); break;
        case 'steady': await steady(command.seconds, command.directRate, command.broadcastRate, command.graceMs); break;
        case 'overflow': await overflow(command.count, command.concurrency); break;
        case 'release-overflow':
            for (const p of overflowPeers) p.ws?.terminate();
            overflowPeers = [];
            report({ event: 'overflow-released' });
            break;
        case 'depart': await depart(command.count, command.windowMs, command.graceMs); break;
        case 'stop':
            stopping = true;
            clearInterval(heartbeats);
            for (const p of peers) p.ws?.terminate();
            report({ event: 'stopped' });
            setTimeout(() => process.exit(0), 100);
            break;
    }
});
// The coordinator gone (killed, crashed): nothing holds these sockets open for anyone.
process.on('disconnect', () => process.exit(0));
report({ event: 'ready', peers: peers.length });

// The scale load of issue 14 (run by bench/scale.sh; the CI-sized variant by ScaleBenchTests): many small meshes of
// peers that register as the real clients do, held with heartbeats under background traffic, then a mass departure.
//
//   node bench/scale/scale.mjs --url ws://a/ws[,ws://b/ws...] --peers 18000 [--mesh-size 10] [--workers 8]
//        [--sources 127.0.0.2-127.0.0.9] [--concurrency 500] [--heartbeat 20] [--direct-rate 1000]
//        [--broadcast-rate 100] [--steady 60] [--overflow 0] [--depart 10000] [--depart-window 5] [--settle 5]
//        [--pid PID[,PID...]] [--metrics URL[,URL...]] [--register-timeout 120]
//
// Peers are numbered; peer i belongs to mesh floor(i / mesh-size), connects to URL i mod #URLs (so meshes span
// nodes) from source address i mod #sources. Whole meshes go to each worker process (so that every check is made on
// one clock), and no worker holds more than 15,000 sockets (these machines cap a process at 20,000 open files).
// Phases, one after the other:
//   1. connect: every peer opens its socket, sends capabilities and a presence with ~200 bytes of metadata, at most
//      --concurrency connecting at a time over all workers (an upgrade refused with 503 is tried again after its
//      Retry-After, up to 60 times, and counted as retried); it is registered once it has seen the presence of every
//      other member of its mesh. From its open on, each peer sends a heartbeat every --heartbeat seconds.
//   2. steady, for --steady seconds: --direct-rate directs/s (to the next member of the sender's mesh, addressed as
//      the real clients do: to an agent name, with targetInstanceId) and --broadcast-rate broadcasts/s, from random
//      peers; every delivery checked for loss, duplication and per-sender order; direct latency on one clock.
//   3. overflow (--overflow N > 0): N more upgrades; counts accepted and refused (HTTP status).
//   4. departure: --depart peers close at once, spread over the meshes; every remaining member must hear each
//      one's offline exactly once within --depart-window seconds.
// Throughout: any offline for a peer that did not leave, any socket closed by the relay, and relay errors are counted.
// With --pid, the server processes' RSS (idle, registered, after the steady phase) and CPU (steady phase) are read
// from /proc; with --metrics, each node's managed heap after its last GC (System.Runtime meter on /metrics).
// Prints the table, then one JSON line with every figure; exit 0 only when every correctness check passed.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
}, []));
const number = (name, fallback) => Number(args[name] ?? fallback);
const urls = (args.url ?? 'ws://127.0.0.1:8080/ws').split(',');
const peerCount = number('peers', 18000);
const meshSize = number('mesh-size', 10);
const maxPerWorker = 15000;
const meshCount = Math.ceil(peerCount / meshSize);
// Eight by default, as many as source addresses: on cores shared with other processes, a worker's share of CPU is
// one thread's, and two workers of 9,000 sockets each fell behind reading (the relay then saw stalled consumers).
const workerCount = Math.max(Math.min(number('workers', 8), meshCount), Math.ceil(peerCount / maxPerWorker), 1);
const sources = expandSources(args.sources ?? '127.0.0.2-127.0.0.9');
const concurrency = number('concurrency', 500);
const heartbeatMs = number('heartbeat', 20) * 1000;
const directRate = number('direct-rate', 1000);
const broadcastRate = number('broadcast-rate', 100);
const steadySeconds = number('steady', 60);
const overflowCount = number('overflow', 0);
const departCount = Math.min(number('depart', 10000), meshCount * (meshSize - 1));
const departWindowMs = number('depart-window', 5) * 1000;
const settleMs = number('settle', 5) * 1000;
const registerTimeoutMs = number('register-timeout', 120) * 1000;
const pids = (args.pid ?? '').split(',').filter(Boolean).map(Number);
const metricsUrls = (args.metrics ?? '').split(',').filter(Boolean);
const run = Math.random().toString(36).slice(2, 8);
if (peerCount % meshSize !== 0) throw new Error(`--peers (${peerCount}) must be a multiple of --mesh-size (${meshSize})`);

const log = (line) => process.stderr.write(`scale: ${line}\n`);
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms));

function expandSources(text) {
    const [from, to] = text.split('-');
    if (!to) return text.split(',');
    const prefix = from.slice(0, from.lastIndexOf('.') + 1);
    const first = Number(from.slice(prefix.length)), last = Number(to.slice(to.lastIndexOf('.') + 1));
    return Array.from({ length: last - first + 1 }, (_, k) => prefix + (first + k));
}

function rssKb() {
    return pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]), 0);
}
function cpuTicks(pidList) {
    return pidList.reduce((sum, pid) => {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return sum + Number(fields[11]) + Number(fields[12]); // utime, stime (clock ticks, 100 per second here)
    }, 0);
}
/** Every node's Prometheus lines summed by the key `keyOf` gives each (null: not wanted). */
async function sumMetrics(keyOf) {
    const out = {};
    for (const url of metricsUrls) {
        const text = await (await fetch(url)).text();
        for (const line of text.split('\n')) {
            const key = keyOf(line);
            if (key !== null) out[key] = (out[key] ?? 0) + Number(line.split(' ').at(-1));
        }
    }
    return out;
}

async function managedHeapBytes() {
    if (!metricsUrls.length) return null;
    const sums = await sumMetrics((line) => line.startsWith('dotnet_gc_last_collection_heap_size_bytes') ? 'heap' : null);
    return sums.heap ?? 0;
}

/** The nodes' own count of what happened to connections (reaped, disconnected by reason, refused, open), summed. */
function connectionMetrics() {
    return sumMetrics((line) => /^relay_(disconnects|connections_reaped|connections_refused|connections)[_{ ]/.test(line)
        ? line.slice(0, line.lastIndexOf(' ')).replace(/,?otel_scope_[a-z_]+="[^"]*"/g, '')
        : null);
}

/** What the cluster did for the departure, per departing peer: Orleans messages (to other silos and local), grain
 * requests, storage writes and clears by state, peer and mesh activations gone, link items and batches; summed over
 * the nodes from a snapshot before the sockets close and one after every offline arrived (before the run's teardown
 * closes the rest, which would count their departures too). Null without --metrics. */
const departureCounters = [
    ['orleans_messaging_sent_messages_size_bytes_count', 'messages_remote'], ['orleans_messaging_sent_local_total', 'messages_local'],
    ['orleans_app_requests_latency_milliseconds_count', 'grain_requests'],
    ['orleans_storage_write_latency_milliseconds_count', 'writes'], ['orleans_storage_clear_latency_milliseconds_count', 'clears'],
    ['orleans_catalog_activation_destroyed_total', 'deactivations'], ['orleans_reminders_ticks_delivered_total', 'reminder_ticks'],
    ['relay_cluster_items_sent_total', 'link_items'], ['relay_cluster_batches_sent_total', 'link_batches'],
];
async function departureCounts() {
    if (!metricsUrls.length) return null;
    return sumMetrics((line) => {
        const entry = departureCounters.find(([name]) => line.startsWith(name + '{') || line.startsWith(name + ' '));
        if (!entry) return null;
        // Storage and activations by state or grain type, the rest as one figure.
        const by = /state_name="([^"]*)"/.exec(line)?.[1] ?? /grain_type="([^"]*)"/.exec(line)?.[1];
        return by ? `${entry[1]}_${by}` : entry[1];
    });
}

// Whole meshes per worker, round-robin.
const workers = Array.from({ length: workerCount }, (_, w) => {
    const owned = [];
    for (let m = w; m < meshCount; m += workerCount) owned.push(m);
    const child = fork(new URL('./worker.mjs', import.meta.url), [JSON.stringify({
        run, meshSize, urls, sources, heartbeatMs, registerTimeoutMs, meshes: owned,
    })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const inbox = [];
    let waiting = null;
    child.on('message', (message) => { inbox.push(message); waiting?.(); });
    child.on('exit', (code) => { if (!stopped) { log(`worker ${w} exited (${code})`); process.exit(3); } });
    const next = async (event) => {
        for (;;) {
            const k = inbox.findIndex(m => m.event === event);
            if (k >= 0) return inbox.splice(k, 1)[0];
            await new Promise(resolve => { waiting = resolve; });
        }
    };
    return { child, peers: owned.length * meshSize, next };
});
let stopped = false;
const all = (event, command) => Promise.all(workers.map((w, k) => {
    if (command) w.child.send(typeof command === 'function' ? command(w, k) : command);
    return w.next(event);
}));
const share = (total, w) => total * w.peers / peerCount;
const sum = (results, key) => results.reduce((s, r) => s + r[key], 0);
const merge = (results, key) => results.reduce((out, r) => {
    for (const [k, v] of Object.entries(r[key] ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
}, {});

await all('ready');
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
log(`${peerCount} peers in ${meshCount} meshes of ${meshSize}, ${workerCount} workers, ${sources.length} source addresses, ${urls.length} node(s), load ${load}`);
const result = { run, peers: peerCount, meshes: meshCount, mesh_size: meshSize, workers: workerCount, nodes: urls.length, load_start: load };
if (pids.length) result.rss_idle_kb = rssKb();
result.heap_idle_bytes = await managedHeapBytes();

// 1. Connect storm.
const connected = await all('connected', (w) => ({ cmd: 'connect', concurrency: Math.max(1, Math.round(share(concurrency, w))) }));
result.connect_s = Math.max(...connected.map(c => c.seconds));
result.refused_at_connect = sum(connected, 'refused');
result.connect_errors = sum(connected, 'connectErrors');
result.retried_at_connect = sum(connected, 'retries');
log(`connected in ${result.connect_s.toFixed(1)} s (${sum(connected, 'open')} open, ${result.refused_at_connect} refused, ${result.retried_at_connect} 503s retried after Retry-After, ${result.connect_errors} errors)`);
const registered = await all('registered');
result.registered = sum(registered, 'registered');
result.register_s = Math.max(...registered.map(r => r.lastSeconds));
log(`registered ${result.registered} of ${peerCount}; the last after ${result.register_s.toFixed(1)} s`);
await sleep(settleMs);
if (pids.length) result.rss_registered_kb = rssKb();
result.heap_registered_bytes = await managedHeapBytes();

// 2. Steady state.
const ticks0 = pids.length ? cpuTicks(pids) : 0;
const clientTicks0 = cpuTicks(workers.map(w => w.child.pid));
const steadyStart = performance.now();
const steady = await all('steady', (w) => ({
    cmd: 'steady', seconds: steadySeconds, directRate: share(directRate, w), broadcastRate: share(broadcastRate, w), graceMs: 3000,
}));
const steadyWall = (performance.now() - steadyStart) / 1000;
if (pids.length) {
    result.server_cpu_pct = Math.round((cpuTicks(pids) - ticks0) / steadyWall); // ticks are 1/100 s: % of one core
    result.rss_held_kb = rssKb();
}
result.client_cpu_pct = Math.round((cpuTicks(workers.map(w => w.child.pid)) - clientTicks0) / steadyWall);
result.heap_held_bytes = await managedHeapBytes();
const directs = Float64Array.from(steady.flatMap(s => s.latencies)).sort();
const pct = (q) => directs.length ? Math.round(directs[Math.min(directs.length - 1, Math.floor(q * directs.length))] * 10) / 10 : null;
Object.assign(result, {
    steady_s: steadySeconds, held: sum(steady, 'open'), sent: sum(steady, 'sent'), expected: sum(steady, 'expected'),
    received: sum(steady, 'received'), duplicated: sum(steady, 'duplicated'), reordered: sum(steady, 'reordered'),
    direct_p50_ms: pct(0.5), direct_p99_ms: pct(0.99), direct_max_ms: pct(1),
});
result.lost = result.expected - (result.received - result.duplicated);
log(`steady ${steadySeconds} s: ${result.sent} sent, ${result.expected} expected, ${result.received} received, lost ${result.lost}, dup ${result.duplicated}, reordered ${result.reordered}, direct p99 ${result.direct_p99_ms} ms`);

// 3. Overflow.
if (overflowCount > 0) {
    const over = await all('overflow', (w) => ({ cmd: 'overflow', count: Math.round(share(overflowCount, w)), concurrency: Math.max(1, Math.round(share(concurrency, w))) }));
    await all('overflow-released', { cmd: 'release-overflow' });
    result.overflow = { attempted: sum(over, 'attempted'), accepted: sum(over, 'accepted'), refused: sum(over, 'refused'), errors: sum(over, 'connectErrors'), status: merge(over, 'refusedStatus') };
    log(`overflow: ${result.overflow.attempted} more upgrades, ${result.overflow.accepted} accepted, ${result.overflow.refused} refused ${JSON.stringify(result.overflow.status)}`);
    await sleep(1000);
}

if (metricsUrls.length) result.relay_metrics_before_departure = await connectionMetrics();

// 4. Departure.
const countsBefore = await departureCounts();
const departed = await all('departed', (w) => ({ cmd: 'depart', count: Math.round(share(departCount, w)), windowMs: departWindowMs, graceMs: 2000 }));
result.departure = {
    closed: sum(departed, 'left'), expected: sum(departed, 'expected'), once: sum(departed, 'once'), twice: sum(departed, 'twice'),
    missing: sum(departed, 'missing'), late: sum(departed, 'late'), max_ms: Math.round(Math.max(...departed.map(d => d.maxMs))),
};
// How the offlines spread over the departure: a last offline far behind the median is a tail (some departures queued
// behind others), one near it a node working through all of them at its pace.
const offlineMs = Float64Array.from(departed.flatMap(d => d.offlineMs)).sort();
for (const q of [50, 90, 99]) result.departure[`p${q}_ms`] = offlineMs.length ? offlineMs[Math.min(offlineMs.length - 1, Math.floor(q / 100 * offlineMs.length))] : null;
log(`departure: ${result.departure.closed} closed; offline once ${result.departure.once} of ${result.departure.expected}, twice ${result.departure.twice}, missing ${result.departure.missing}, late ${result.departure.late}, last after ${result.departure.max_ms} ms (p50 ${result.departure.p50_ms}, p90 ${result.departure.p90_ms})`);
const countsAfter = await departureCounts();
if (countsBefore && countsAfter && result.departure.closed) {
    result.departure.per_departure = Object.fromEntries(Object.keys(countsAfter).sort()
        .map(k => [k, Math.round((countsAfter[k] - (countsBefore[k] ?? 0)) / result.departure.closed * 1000) / 1000]));
    log(`departure, per departing peer: ${JSON.stringify(result.departure.per_departure)}`);
}
result.false_offline = sum(departed, 'falseOffline');
result.false_offline_by_phase = merge(departed, 'falseOfflineIn');
result.foreign = sum(departed, 'foreign');
result.foreign_types = merge(departed, 'foreignTypes');
result.relay_closed = sum(departed, 'closed');
result.relay_errors = sum(departed, 'errors');
result.error_codes = merge(departed, 'errorCodes');

stopped = true;
await all('stopped', { cmd: 'stop' });

const failures = [];
if (result.registered !== peerCount) failures.push(`${peerCount - result.registered} peers not registered`);
if (result.held !== peerCount) failures.push(`${peerCount - result.held} peers not held`);
for (const key of ['lost', 'duplicated', 'reordered', 'false_offline', 'relay_closed', 'relay_errors', 'foreign']) {
    if (result[key] !== 0) failures.push(`${key} ${result[key]}`);
}
const d = result.departure;
if (d.once !== d.expected || d.twice || d.missing || d.late) failures.push(`departure: ${d.once} of ${d.expected} once, ${d.twice} twice, ${d.missing} missing, ${d.late} late`);
if (result.overflow && result.overflow.refused + result.overflow.accepted !== result.overflow.attempted) failures.push('overflow: attempts neither accepted nor refused');
result.failures = failures;
result.rss_per_peer_kib = pids.length ? Math.round((result.rss_registered_kb - result.rss_idle_kb) / peerCount * 100) / 100 : null;
result.rss_per_peer_held_kib = pids.length ? Math.round((result.rss_held_kb - result.rss_idle_kb) / peerCount * 100) / 100 : null;

const mib = (kb) => kb == null ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`;
const heap = (b) => b == null ? '' : `, managed heap ${(b / 1048576).toFixed(0)} MiB`;
const rows = [
    ['registered / held', `${result.registered} / ${result.held} of ${peerCount} (${meshCount} meshes, ${urls.length} node(s))`],
    ['RSS per peer', pids.length ? `${result.rss_per_peer_kib} KiB registered (idle ${mib(result.rss_idle_kb)}${heap(result.heap_idle_bytes)}; registered ${mib(result.rss_registered_kb)}${heap(result.heap_registered_bytes)}); ${result.rss_per_peer_held_kib} KiB after the steady phase (${mib(result.rss_held_kb)}${heap(result.heap_held_bytes)})` : 'n/a (no --pid)'],
    ['time to register', `${result.register_s.toFixed(1)} s (sockets open after ${result.connect_s.toFixed(1)} s, concurrency ${concurrency})`],
    ['refusals', `${result.refused_at_connect} at connect (${result.retried_at_connect} 503s retried after their Retry-After), ${result.connect_errors} errors` + (result.overflow ? `; overflow of ${result.overflow.attempted}: ${result.overflow.accepted} accepted, ${result.overflow.refused} refused ${JSON.stringify(result.overflow.status)}` : '')],
    ['steady CPU', `server ${result.server_cpu_pct ?? 'n/a'} % of one core, client ${result.client_cpu_pct} % (${steadySeconds} s, ${directRate} direct/s + ${broadcastRate} broadcast/s, heartbeat every ${heartbeatMs / 1000} s)`],
    ['direct p99', `${result.direct_p99_ms} ms (p50 ${result.direct_p50_ms}, max ${result.direct_max_ms})`],
    ['loss / dup / reorder', `${result.lost} / ${result.duplicated} / ${result.reordered} of ${result.expected} deliveries; false offline ${result.false_offline}, closed by the relay ${result.relay_closed}, relay errors ${result.relay_errors}`],
    ['departure', `${d.closed} closed at once: offline exactly once ${d.once} of ${d.expected}, twice ${d.twice}, missing ${d.missing}, later than ${departWindowMs / 1000} s ${d.late}; last after ${d.max_ms} ms (p50 ${d.p50_ms}, p90 ${d.p90_ms})`],
];
process.stdout.write('| figure | result |\n|---|---|\n' + rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n') + '\n');
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(failures.length ? 1 : 0);

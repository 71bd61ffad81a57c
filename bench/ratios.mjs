#!/usr/bin/env node
// ratios.mjs: reads the JSON that the shared compare.sh wrote for `--servers limit-hub,ours` and prints, per figure
// of issue #6's targets, both values, the ratio ours ÷ limit-hub, whether the target is met, both sides' CPU and which
// side was the bottleneck.
//   node bench/ratios.mjs results.json
// Bottleneck rule (2 cores shared by client and server): meshbench is one Node process, so at >= 85 % of a core the
// client is saturated ("client"); otherwise the server is when the two together used the machine (>= 170 % of a core)
// or the server alone a core ("server"); when neither is busy, the closed loop (window ÷ latency) or other processes
// on the machine set the pace ("neither").
import { readFileSync } from 'node:fs';

const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const of = (name) => Object.fromEntries(Object.entries((doc.servers.find((s) => s.server === name) || {}).results || {}));
const hub = of('limit-hub'), ours = of('ours');

const r1 = (x) => (x == null ? '–' : x >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 10) / 10));
const r2 = (x) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(2));
const cpu = (r) => (r && r.client && r.server ? `${r.client.cpu_pct} / ${r.server.cpu_pct}` : '–');
const bottleneck = (r) => {
  if (!r || !r.client || !r.server) return '–';
  if (r.client.cpu_pct >= 85) return 'client';
  if (r.server.cpu_pct >= 85 || r.client.cpu_pct + r.server.cpu_pct >= 170) return 'server';
  return 'neither';
};
const sides = (r1_, r2_) => `${bottleneck(r1_)} / ${bottleneck(r2_)}`;

// [figure, scenario, value(result), target text, met(ratio, oursResult)]
const figures = [
  ['direct msgs/s', 'direct', (r) => r.metrics.msgs_per_s, '>= 1.0', (q) => q >= 1.0],
  ['direct srv µs/msg', 'direct', (r) => r.server && r.server.us_per_delivery, '<= 1.25', (q) => q <= 1.25],
  ['direct p99 ms', 'direct', (r) => r.metrics.latency_ms.p99, '<= 1.5', (q) => q <= 1.5],
  ['broadcast deliveries/s', 'broadcast', (r) => r.metrics.deliveries_per_s, '>= 0.9', (q) => q >= 0.9],
  ['broadcast srv µs/delivery', 'broadcast', (r) => r.server && r.server.us_per_delivery, '<= 1.5', (q) => q <= 1.5],
  ['stream msgs/s (in order)', 'stream', (r) => r.metrics.msgs_per_s, '>= 0.9, in order', (q, o) => q >= 0.9 && o.metrics.in_order],
  ['connect 1000: all registered s', 'connect', (r) => r.metrics.register_s, '<= 1.5', (q) => q <= 1.5],
  ['RSS kB per registered peer', 'connect', (r) => r.metrics.rss_per_conn_kb, '<= 1.0', (q) => q <= 1.0],
];

const lines = [
  '| figure | limit-hub | Relay | ratio | target | met | client / server CPU % (limit-hub) | client / server CPU % (Relay) | bottleneck (limit-hub / Relay) |',
  '|---|---:|---:|---:|---|---|---:|---:|---|',
];
for (const [name, sc, value, target, met] of figures) {
  const h = hub[sc], o = ours[sc];
  const hv = h && h.metrics ? value(h) : null, ov = o && o.metrics ? value(o) : null;
  const q = hv && ov != null ? ov / hv : null;
  const ok = q != null && o.status === 'ok' ? (met(q, o) ? 'yes' : '**no**') : '**no**';
  const fail = (r) => (r && r.status !== 'ok' ? ' ✗' : '');
  lines.push(`| ${name} | ${r1(hv)}${fail(h)} | ${r1(ov)}${fail(o)} | ${r2(q)} | ${target} | ${ok} | ${cpu(h)} | ${cpu(o)} | ${sides(h, o)} |`);
}
const reap = (r) => (r && r.metrics ? `${r2(r.metrics.reap_s)} s, offline ×${r.metrics.offline_count}` : '–');
const reapOk = ours.reap && ours.reap.status === 'ok' && ours.reap.metrics.offline_count === 1
  && ours.reap.metrics.reap_s >= 30 && ours.reap.metrics.reap_s <= 40;
lines.push(`| reap | ${reap(hub.reap)} | ${reap(ours.reap)} | | offline once, 30-40 s | ${reapOk ? 'yes' : '**no**'} | | | |`);
console.log(lines.join('\n'));

#!/usr/bin/env python3
"""Where relay processes' CPU goes, from a perf recording (bench/cluster.sh --perf keeps one per run).

usage: perf script -i perf-r1-shipped-direct.data -F comm,pid,tid,ip,sym,dso > out.script
       bench/perf-owners.py out.script PID=name[,PID=name...] [µs-per-delivery]

Relay processes must have run with DOTNET_PerfMapEnabled=1 (cluster.sh --perf does) and their /tmp/perf-PID.map files
must still exist. A sample is attributed by its thread's name, by its leaf frame, and by its "owner": the innermost
frame of the stack in relay, Orleans, ASP.NET Core or StackExchange.Redis code (System.* frames are skipped, so a
socket send in the kernel under Orleans' connection writer counts as Orleans'); a stack with no such frame goes by its
leaf (kernel scheduler/futex: thread wake-ups and waits). The buckets at the end sum to 100 %; with µs-per-delivery
(bench/cluster.sh's "server µs/delivery") each bucket is also given in µs per delivery.
libcoreclr.so is stripped on this machine, so GC is not separable from the rest of the runtime's native code.
"""
import re, sys, collections
txt, pidmap = sys.argv[1], dict(kv.split('=') for kv in sys.argv[2].split(','))
hdr = re.compile(r'^(\S.*?)\s+(\d+)/(\d+)\s')
samples = []  # (pid, comm, frames[list of (sym, dso)])
cur = None
for line in open(txt, errors='replace'):
    if not line.strip():
        if cur: samples.append(cur); cur = None
        continue
    if not line[0].isspace():
        m = hdr.match(line)
        if m: cur = (m.group(2), m.group(1), [])
        continue
    if cur is None: continue
    s = line.strip()
    # "ip sym+off (dso)"
    m = re.match(r'^[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)$', s)
    if m: cur[2].append((m.group(1), m.group(2)))
if cur: samples.append(cur)

def thread_class(comm):
    c = comm
    if 'Tiered' in c: return 'JIT (tiered-compilation thread)'
    if c.startswith('.NET TP Worker') or c.startswith('.NET ThreadPool'): return 'thread-pool workers'
    if 'Sockets' in c or c.startswith('.NET SynchManag'): return 'socket engine (epoll thread)'
    if 'BGC' in c or 'GC' in c: return 'GC threads'
    if 'redis' in c: return 'redis'
    return 'other: ' + c

KSCHED = re.compile(r'finish_task_switch|__schedule|schedule$|try_to_wake_up|futex|ttwu|pick_next|psi_|update_curr|enqueue_task|dequeue_task|select_task_rq|native_queued_spin|_raw_spin_unlock_irqrestore|do_sched_yield|sched_')
KNET = re.compile(r'tcp_|inet_|sock_|__sys_send|__sys_recv|ip_|__dev_queue|loopback|net_rx|__netif|skb|__napi|sk_|do_softirq|epoll|ep_')
def leaf_class(frames):
    if not frames: return 'no stack'
    sym, dso = frames[0]
    if 'libclrjit' in dso: return 'JIT (libclrjit)'
    if 'libcoreclr' in dso:
        if re.search(r'gc_heap|GCHeap|WKS::|SVR::|gc\b|memclr|Mark|plan_phase|sweep|relocate|compact', sym): return 'GC (coreclr gc)'
        return 'runtime native (coreclr)'
    if 'kernel' in dso:
        if KSCHED.search(sym): return 'kernel: scheduler/futex (wake-ups, switches)'
        if KNET.search(sym): return 'kernel: network (loopback TCP, epoll)'
        return 'kernel: other'
    if 'libc' in dso or 'ld-linux' in dso or 'libpthread' in dso: return 'libc'
    if 'redis' in dso: return 'redis'
    return 'managed or other'

FRAME = re.compile(r'\[([\w.]+)\] (\S+?)::([^\s(]+)\(')
def frame_name(sym):
    m = FRAME.search(sym)
    if not m: return None
    asm, typ, meth = m.groups()
    typ = re.sub(r'`\d+', '', typ)
    d = re.search(r'^(.*)\+<(\w+)>d__\d+$', typ)
    if d: typ, meth = d.group(1), d.group(2)
    typ = re.sub(r'\+<>c(__DisplayClass[\w]*)?$', '', typ)
    return asm, typ, meth
def own_class(asm, typ):
    if typ.startswith('OrleansCodeGen'):
        return 'Orleans serialization' if re.search(r'Codec_|Copier_|Activator_', typ) else 'Orleans invokers/proxies (generated)'
    if asm.startswith('Orleans'):
        if asm == 'Orleans.Serialization' or 'Serializ' in typ or 'Codec' in typ: return 'Orleans serialization'
        if typ.startswith('Orleans.Networking'): return 'Orleans sockets (Orleans.Networking)'
        if typ.startswith('Orleans.Runtime.Messaging'): return 'Orleans messaging (Connection, MessageCenter)'
        return 'Orleans runtime (hosted client, pumps, scheduler, callbacks)'
    if asm.startswith('Relay'):
        if typ.startswith('Relay.Gateway.Cluster'): return 'relay: links (Relay.Gateway.Cluster)'
        if typ.startswith('Relay.Grains'): return 'relay: grains'
        if typ.startswith('Relay.Gateway.Connections'): return 'relay: connections (socket read/write)'
        return 'relay: routing, protocol, other'
    if asm.startswith('Microsoft.AspNetCore'): return 'ASP.NET Core / Kestrel'
    if asm.startswith('StackExchange'): return 'StackExchange.Redis'
    return None
def owner(frames):
    for sym, dso in frames:
        f = frame_name(sym)
        if f:
            c = own_class(f[0], f[1])
            if c: return c
    return None
by_pid = collections.Counter(s[0] for s in samples)
total = len(samples)
print(f'samples: {total}')
for pid, n in by_pid.most_common():
    print(f'  {pidmap.get(pid, pid)}: {n} ({100*n/total:.1f} %)')

def table(title, key):
    print(f'\n## {title}')
    roles = sorted(set(pidmap.get(s[0], s[0]) for s in samples))
    cnt = {r: collections.Counter() for r in roles}
    for s in samples: cnt[pidmap.get(s[0], s[0])][key(s)] += 1
    keys = collections.Counter()
    for r in roles: keys.update(cnt[r])
    print('| ' + ' | '.join(['class'] + roles + ['all']) + ' |')
    print('|---' * (len(roles) + 2) + '|')
    for k, _ in keys.most_common():
        row = [k]
        for r in roles:
            t = sum(cnt[r].values()); row.append(f'{100*cnt[r][k]/t:.1f}' if t else '–')
        row.append(f'{100*keys[k]/total:.1f}')
        print('| ' + ' | '.join(row) + ' |')

table('by thread', lambda s: thread_class(s[1]))
table('by leaf (self)', lambda s: leaf_class(s[2]))
def own_or_leaf(s):
    if 'Tiered' in s[1]: return 'JIT (tiered-compilation thread)'
    o = owner(s[2])
    if o: return o
    l = leaf_class(s[2])
    return 'no relay/Orleans frame: ' + l
table('by owner (innermost relay/Orleans/ASP.NET frame of the stack; else the leaf)', own_or_leaf)

def inclusive(title, pred, top):
    print(f'\n## {title}')
    inc = collections.Counter()
    for smp in samples:
        seen = set()
        for sym, dso in smp[2]:
            f = frame_name(sym)
            if f and pred(f):
                k = f[1] + '.' + f[2]
                if k not in seen: seen.add(k); inc[k] += 1
    for k, n in inc.most_common(top): print(f'  {100*n/total:5.1f} %  {k}')
inclusive('relay methods, inclusive (% of all samples)', lambda f: f[0].startswith('Relay'), 40)
inclusive('Orleans methods, inclusive', lambda f: f[0].startswith('Orleans') or f[1].startswith('OrleansCodeGen'), 30)
def wake(smp):
    fr = smp[2]
    if not fr: return False
    sym, dso = fr[0]
    return bool(KSCHED.search(sym) and 'kernel' in dso) or bool(re.search(r'futex|sched_yield|lll_lock', sym))
print('\n## leaf in scheduler/futex/sched_yield, by owner')
c = collections.Counter(own_or_leaf(smp) for smp in samples if wake(smp))
w = sum(c.values()); print(f'  all: {w} ({100*w/total:.1f} %)')
for k, n in c.most_common(): print(f'  {100*n/total:5.1f} %  {k}')

BUCKET = [
    ('Orleans messaging: serialization', lambda k: k in ('Orleans serialization',)),
    ('Orleans messaging: connections, MessageCenter, sockets', lambda k: k in ('Orleans messaging (Connection, MessageCenter)', 'Orleans sockets (Orleans.Networking)')),
    ('Orleans runtime: hosted client, observer pumps, invokers, scheduler, streams agents', lambda k: k.startswith('Orleans runtime') or k.startswith('Orleans invokers')),
    ("relay's own code", lambda k: k.startswith('relay:')),
    ('ASP.NET Core / Kestrel (client sockets)', lambda k: k.startswith('ASP.NET')),
    ('thread wake-ups, waits, switches (scheduler/futex, no relay/Orleans frame)', lambda k: 'scheduler/futex' in k or k == 'no relay/Orleans frame: libc'),
    ('kernel without a relay/Orleans frame (network, syscalls, epoll)', lambda k: k.startswith('no relay/Orleans frame: kernel')),
    ('.NET runtime native (coreclr: allocation, GC, stubs; stripped, GC not separable)', lambda k: 'coreclr' in k),
    ('.NET managed without a relay/Orleans frame (thread-pool dispatch, System.*)', lambda k: k == 'no relay/Orleans frame: managed or other'),
    ('tiered JIT', lambda k: 'JIT' in k),
    ('Redis (server process + StackExchange.Redis)', lambda k: 'redis' in k.lower()),
]
us = float(sys.argv[3]) if len(sys.argv) > 3 else None
c = collections.Counter(own_or_leaf(smp) for smp in samples)
print(f'\n## buckets (µs/delivery {us})')
seen = set()
for name, pred in BUCKET:
    n = sum(v for k, v in c.items() if k not in seen and pred(k))
    seen.update(k for k in c if pred(k))
    print(f'| {name} | {100*n/total:.1f} % | {us*n/total if us else 0:.1f} |')
left = sum(v for k, v in c.items() if k not in seen)
print(f'| unclassified | {100*left/total:.1f} % | {[k for k in c if k not in seen]} |')

print('\n## buckets per process (% of that process\'s samples)')
roles = sorted(set(pidmap.get(s[0], s[0]) for s in samples))
per = {r: collections.Counter(own_or_leaf(s) for s in samples if pidmap.get(s[0], s[0]) == r) for r in roles}
print('| ' + ' | '.join(['bucket'] + roles + ['all', 'µs/delivery']) + ' |')
print('|---' + '|---:' * (len(roles) + 2) + '|')
seen = set()
for name, pred in BUCKET:
    ks = [k for k in c if k not in seen and pred(k)]; seen.update(ks)
    row = [name]
    for r in roles:
        t = sum(per[r].values()); row.append(f'{100*sum(per[r][k] for k in ks)/t:.1f}')
    n = sum(c[k] for k in ks)
    row += [f'{100*n/total:.1f}', f'{us*n/total:.1f}' if us else '']
    print('| ' + ' | '.join(row) + ' |')
print('| samples | ' + ' | '.join(str(sum(per[r].values())) for r in roles) + f' | {total} | {us} |')

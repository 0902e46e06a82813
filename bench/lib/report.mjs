// Markdown for bench/results/latest.md: machine, method, targets, one table per case.
import os from 'node:os';
import { execSync } from 'node:child_process';
import { SERVERS } from './config.mjs';
import { SCENARIOS } from './scenarios.mjs';

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const ratio = (v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`);
const arrow = { higher: ' ↑', lower: ' ↓', info: '' };

export function machine() {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    /* not a git checkout */
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    commit,
  };
}

/** Target checks of issue 7 against the medians; a target whose case did not run is "n/a". */
export function targets(agg) {
  const t = [];
  const get = (id, server, key) => agg[id]?.medians?.[server]?.[key] ?? null;
  const rat = (id, peer, key) => agg[id]?.ratios?.[peer]?.[key] ?? null;
  const check = (name, value, ok, shown) => t.push({ name, value: shown, met: value === null ? 'n/a' : ok ? 'met' : 'NOT met' });

  const fr = rat('fanout-1000', 'corked', 'deliveriesPerCpuS');
  check('fan-out @1,000: deliveries per server-CPU-s ≥ 0.9× corked ws', fr, fr >= 0.9, ratio(fr));
  const fs = rat('fanout-1000', 'sio', 'deliveriesPerCpuS');
  check('fan-out @1,000: deliveries per server-CPU-s ≥ 3× Socket.IO', fs, fs >= 3, ratio(fs));
  const p99 = get('fanout-1000', 'ours', 'p99Ms');
  check('fan-out @1,000: p99 delivery latency < 100 ms', p99, p99 < 100, p99 === null ? '—' : `${p99.toFixed(2)} ms`);
  const single = Object.keys(agg).filter((id) => /^fanout-\d+$/.test(id));
  const costs = single.map((id) => get(id, 'ours', 'cpuMicrosPerDelivery')).filter((x) => x !== null);
  const flat = costs.length >= 2 ? Math.max(...costs) / Math.min(...costs) : null;
  check(
    `fan-out: cost per delivery flat over ${single.map((id) => id.slice(7)).join(' / ')} subscribers (max/min ≤ 1.25)`,
    flat,
    flat <= 1.25,
    flat === null ? '—' : `${costs.map((c) => c.toFixed(2)).join(' / ')} µs → ${flat.toFixed(2)}×`,
  );
  const ib = rat('inbound', 'bare', 'roundTripsPerCpuS');
  check('inbound: round trips per server-CPU-s ≥ 0.7× bare ws echo', ib, ib >= 0.7, ratio(ib));
  const mh = rat('memory', 'bare', 'heapPerConn');
  check('memory: heap per connection ≤ 1.3× bare ws', mh, mh <= 1.3, ratio(mh));
  const mr = rat('memory', 'bare', 'rssPerConn');
  check('memory: RSS per connection ≤ 1.3× bare ws', mr, mr <= 1.3, ratio(mr));
  // Judged on what one server core sustains: on a 2-core machine the load generator shares
  // the CPU, so the wall-clock rate is bounded by the client as well (both are shown).
  const hs = get('handshakes', 'ours', 'handshakesPerCpuS');
  const hw = get('handshakes', 'ours', 'handshakesPerSec');
  check('handshakes: ≥ 2,000 per second with JWT verification (per server-CPU-s)', hs, hs >= 2000, hs === null ? '—' : `${fmt(hs, 0)} per server-CPU-s (${fmt(hw, 0)}/s wall clock)`);

  // Issue 16: many small topics, batch publish, tails.
  const ti = rat('topics-100-inproc', 'corked', 'deliveriesPerCpuS');
  check('(16) topics-100 in-process: deliveries per server-CPU-s ≥ 0.9× corked ws', ti, ti >= 0.9, ratio(ti));
  const tkc = rat('topics-10k-inproc', 'corked', 'deliveriesPerCpuS');
  check('(16) topics-10k in-process: ≥ 0.9× corked ws', tkc, tkc >= 0.9, ratio(tkc));
  const tks = rat('topics-10k-inproc', 'sio', 'deliveriesPerCpuS');
  check('(16) topics-10k in-process: ≥ 2× Socket.IO', tks, tks >= 2, ratio(tks));
  const th = rat('topics-100-http', 'sio', 'deliveriesPerCpuS');
  check('(16) topics-100 over HTTP single publishes: ≥ 1.5× Socket.IO with the same HTTP feed', th, th >= 1.5, ratio(th));
  // "Today's single publishes": the baseline build when it ran (BENCH_BASELINE), else ours.
  for (const family of ['topics-100', 'topics-10k']) {
    const batch = get(`${family}-batch`, 'ours', 'publishesPerCpuS');
    const singleServer = get(`${family}-http`, 'base', 'publishesPerCpuS') !== null ? 'base' : 'ours';
    const singles = get(`${family}-http`, singleServer, 'publishesPerCpuS');
    const gain = batch !== null && singles ? batch / singles : null;
    check(`(16) ${family}, HTTP batches of 100: publishes per server-CPU-s ≥ 10× single publishes (${singleServer === 'base' ? 'baseline build' : 'this build'})`, gain, gain >= 10, ratio(gain));
  }
  const rp = get('fanout-1000-rate', 'ours', 'p99Ms');
  const rc = get('fanout-1000-rate', 'corked', 'p99Ms');
  const offered = get('fanout-1000-rate', 'ours', 'offeredRate');
  check(
    '(16) p99 at 80 % of corked ws\'s saturated rate, 1,000 subscribers of one topic: < 25 ms',
    rp,
    rp < 25,
    rp === null ? '—' : `${rp.toFixed(2)} ms at ${fmt(offered, 0)} publishes/s (corked ws at the same rate: ${rc === null ? '—' : `${rc.toFixed(2)} ms`})`,
  );
  const hb = rat('handshakes', 'bare', 'handshakesPerCpuS');
  check('(16) handshakes with JWT per server-CPU-s ≥ 0.8× bare ws', hb, hb >= 0.8, ratio(hb));
  check('(16) heap per idle authenticated connection ≤ 1.1× bare ws', mh, mh <= 1.1, ratio(mh));
  return t;
}

export function markdown({ size, runs, servers, suite, meta, notes }) {
  const peers = servers.filter((s) => s !== 'ours');
  const lines = [];
  lines.push('# Realtime layer benchmark', '');
  lines.push(`Size **${size.name}**, ${runs} run${runs > 1 ? 's' : ''} (figures are medians over runs; ratios are medians of the per-run ratios ours ÷ peer). ${meta.date}.`, '');
  lines.push(`Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.memGiB} GiB, ${meta.machine.platform}, Node ${meta.machine.node}; load average at start ${meta.machine.loadavg}; commit ${meta.machine.commit}.`, '');
  lines.push(
    'Method: each measurement starts a fresh server process (ours: `dist/` built, `NODE_ENV=production`, `LOG_LEVEL=warn`, rate and connection limits raised by env, every check on) and a separate load-generator process of raw `ws` clients on 127.0.0.1. Server CPU seconds are the server process\'s own `process.cpuUsage()` (user + system) between two checkpoints; memory is the server\'s `process.memoryUsage()` after forced GC. ↑ higher is better, ↓ lower is better.',
    '',
  );
  for (const note of notes) lines.push(`> ${note}`, '');
  if (suite.errors.length) {
    lines.push('## Errors', '');
    for (const e of suite.errors) lines.push(`- ${e.split('\n')[0]}`);
    lines.push('');
  }
  if (servers.includes('ours')) {
    lines.push('## Targets (issue 7; issue 16 marked (16))', '', '| target | measured | status |', '|---|---|---|');
    for (const t of targets(suite.aggregate)) lines.push(`| ${t.name} | ${t.value} | ${t.met} |`);
    lines.push('');
  }
  for (const kase of suite.cases) {
    const agg = suite.aggregate[kase.id];
    lines.push(`## ${agg.title}`, '');
    const head = ['metric', ...servers.map((s) => SERVERS[s].label)];
    if (servers.includes('ours')) head.push(...peers.map((p) => `ours ÷ ${SERVERS[p].label}`));
    lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const d of SCENARIOS[kase.scenario].metrics) {
      const row = [`${d.label}${arrow[d.better]}`, ...servers.map((s) => fmt(agg.medians[s][d.key], d.digits))];
      if (servers.includes('ours')) row.push(...peers.map((p) => (d.better === 'info' ? '' : ratio(agg.ratios[p][d.key]))));
      lines.push(`| ${row.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

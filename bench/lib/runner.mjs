// Runs scenarios × cases × servers (one fresh server process per measurement, one load
// generator process beside it), `runs` times, and aggregates medians.
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVERS, option } from './config.mjs';
import { runLoad, startServer } from './proc.mjs';
import { SCENARIOS } from './scenarios.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function fdLimit() {
  try {
    return Number(execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

/** Shrinks what cannot fit under the open-file limit (server and client are separate processes). */
export function fitToLimits(size, notes) {
  const limit = fdLimit();
  const headroom = 512;
  const mem = size.memory;
  if (mem.connections + mem.warmConnections + headroom > limit) {
    const fitted = Math.max(100, limit - mem.warmConnections - headroom);
    notes.push(`ulimit -n is ${limit}: memory scenario reduced from ${mem.connections} to ${fitted} connections`);
    size.memory = { ...mem, connections: fitted };
  }
  size.fanout = {
    ...size.fanout,
    cases: size.fanout.cases.map((c) => {
      if (c.subscribers + headroom <= limit) return c;
      // Fewer topics of the same size: the shape (subscribers per topic) is what the case is about.
      const perTopic = c.subscribers / c.topics;
      const topics = c.topics === 1 ? 1 : Math.floor((limit - headroom) / perTopic);
      const fitted = c.topics === 1 ? limit - headroom : topics * perTopic;
      if (c.feed === 'http' || !c.family) {
        notes.push(`ulimit -n is ${limit}: fan-out case of ${c.subscribers} subscribers over ${c.topics} topics reduced to ${fitted} over ${topics}`);
      }
      return { ...c, subscribers: fitted, topics };
    }),
  };
  return size;
}

/**
 * A case run at a fixed offered rate (`rateFrom`) gets `fraction` of the publishes/s that
 * `server` sustained in case `id` earlier in the same run (or the fastest server measured there).
 */
function withRate(config, results) {
  const from = config.rateFrom;
  if (!from) return config;
  const rateOf = (m) => (m?.raw ? m.raw.publishes / (m.raw.elapsedMs / 1000) : 0);
  const measured = results[from.id] ?? {};
  const max = rateOf(measured[from.server]) || Math.max(0, ...Object.values(measured).map(rateOf));
  if (!max) throw new Error(`case ${from.id} must run before the fixed-rate case (no saturated rate measured)`);
  return { ...config, rate: Math.round(from.fraction * max) };
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function brief(scenario, m) {
  const first = SCENARIOS[scenario].metrics.slice(0, 2);
  const parts = first.map((d) => `${d.label} ${Math.round(m[d.key]).toLocaleString('en')}`);
  if (m.p99Ms !== undefined && m.p99Ms !== null) parts.push(`p99 ${m.p99Ms.toFixed(2)} ms`);
  return parts.join(', ');
}

/** One measurement: fresh server, one load generator, stop both. */
async function measure(scenario, kase, server, profileRoot, profileServers, config = kase.config) {
  let profileFile;
  if (profileRoot && profileServers.includes(server)) {
    mkdirSync(profileRoot, { recursive: true });
    profileFile = `${profileRoot}/${kase.id}-${server}-${Date.now()}.cpuprofile`;
  }
  const srv = await startServer(server, { profileFile });
  try {
    const { result, checkpoints } = await runLoad(SCENARIOS[scenario].load, srv, { ...config, deadlineMs: kase.timeoutMs }, kase.timeoutMs + 10000);
    return { raw: result, metrics: SCENARIOS[scenario].compute(result, checkpoints) };
  } finally {
    await srv.stop();
  }
}

export async function runSuite({ size, runs, servers, scenarios, profileRoot, profileServers = ['ours'], log = (s) => process.stderr.write(`${s}\n`) }) {
  if (servers.includes('ours') && !existsSync(`${ROOT}dist/bootstrap.js`)) {
    throw new Error('dist/bootstrap.js is missing: run `npm run build` first (npm run bench does)');
  }
  const cases = [];
  for (const scenario of scenarios) for (const kase of SCENARIOS[scenario].cases(size)) cases.push({ scenario, ...kase });
  // BENCH_CASES=topics-100-http,fanout-1000: only those cases (ids as in the report).
  const only = option('cases', '');
  if (only) {
    const wanted = only.split(',').map((id) => id.trim());
    cases.splice(0, cases.length, ...cases.filter((c) => wanted.includes(c.id)));
    if (cases.length === 0) throw new Error(`BENCH_CASES matched no case (${only})`);
  }
  const perRun = [];
  const errors = [];
  for (let run = 0; run < runs; run += 1) {
    const results = {};
    for (const kase of cases) {
      results[kase.id] = {};
      // Rotate the order from run to run so no server always goes first.
      const order = servers.map((_, i) => servers[(i + run) % servers.length]);
      for (const server of order) {
        const tag = `[run ${run + 1}/${runs}] ${kase.id} ${SERVERS[server].label}`;
        if (kase.config?.feed === 'batch' && SERVERS[server].batch === false) {
          log(`${tag}: skipped (no batch publish in that build)`);
          continue;
        }
        try {
          const m = await measure(kase.scenario, kase, server, profileRoot, profileServers, withRate(kase.config, results));
          results[kase.id][server] = m;
          log(`${tag}: ${brief(kase.scenario, m.metrics)}`);
        } catch (err) {
          results[kase.id][server] = { error: err.message };
          errors.push(`${tag}: ${err.message}`);
          log(`${tag}: ERROR ${err.message}`);
        }
      }
    }
    perRun.push(results);
  }
  return { cases, perRun, errors, aggregate: aggregate(cases, perRun, servers) };
}

/** Medians over runs of every metric, and medians of the per-run ratios ours / peer. */
export function aggregate(cases, perRun, servers) {
  const out = {};
  for (const kase of cases) {
    const defs = SCENARIOS[kase.scenario].metrics;
    const medians = {};
    for (const server of servers) {
      medians[server] = {};
      for (const d of defs) medians[server][d.key] = median(perRun.map((r) => r[kase.id]?.[server]?.metrics?.[d.key]));
    }
    const ratios = {};
    for (const peer of servers.filter((s) => s !== 'ours')) {
      ratios[peer] = {};
      for (const d of defs) {
        ratios[peer][d.key] = median(
          perRun.map((r) => {
            const ours = r[kase.id]?.ours?.metrics?.[d.key];
            const theirs = r[kase.id]?.[peer]?.metrics?.[d.key];
            return typeof ours === 'number' && typeof theirs === 'number' && theirs !== 0 ? ours / theirs : null;
          }),
        );
      }
    }
    out[kase.id] = { scenario: kase.scenario, title: kase.title, medians, ratios };
  }
  return out;
}

// Shared settings of the benchmark suite: sizes, secrets, server list, peer environment.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

/**
 * Fan-out cases: one topic (HTTP publishes; once more at a fixed offered rate, 80 % of what the
 * corked reference sustained in the saturated case of the same run), and the many-small-topics
 * shapes of issue 16, each fed three ways (HTTP single publishes, HTTP batches, in-process).
 */
const FEEDS = ['http', 'batch', 'inproc'];
function fanoutCases(single, ratedAt, topics100, topics10k, feeds100 = FEEDS, feeds10k = FEEDS) {
  return [
    ...single.map((subscribers) => ({ subscribers, topics: 1, feed: 'http' })),
    { subscribers: ratedAt, topics: 1, feed: 'http', rateFrom: { id: `fanout-${ratedAt}`, server: 'corked', fraction: 0.8 } },
    ...feeds100.map((feed) => ({ ...topics100, feed, family: 'topics-100' })),
    ...feeds10k.map((feed) => ({ ...topics10k, feed, family: 'topics-10k' })),
  ];
}

/** Scenario sizes. tiny: seconds-long smoke run (CI); ci: a few minutes; full: the sizes of issues 7 and 16. */
export const SIZES = {
  tiny: {
    // Every feed once (HTTP single, fixed rate, batch, in-process), in as few cases as that takes: CI runs it.
    fanout: { cases: fanoutCases([50], 50, { subscribers: 50, topics: 5 }, { subscribers: 200, topics: 100 }, ['batch'], ['inproc']), warmupMs: 150, durationMs: 400 },
    inbound: { connections: 5, inFlight: 2, warmupMs: 200, durationMs: 600 },
    memory: { connections: 100, warmConnections: 20 },
    handshakes: { concurrency: 4, warmupMs: 200, durationMs: 600, maxHandshakes: 2000 },
  },
  ci: {
    fanout: { cases: fanoutCases([100, 1000, 2000], 1000, { subscribers: 1000, topics: 100 }, { subscribers: 4000, topics: 2000 }), warmupMs: 1000, durationMs: 3000 },
    inbound: { connections: 50, inFlight: 8, warmupMs: 1000, durationMs: 3000 },
    memory: { connections: 2000, warmConnections: 100 },
    handshakes: { concurrency: 32, warmupMs: 500, durationMs: 3000, maxHandshakes: 15000 },
  },
  full: {
    fanout: { cases: fanoutCases([100, 1000, 5000], 1000, { subscribers: 1000, topics: 100 }, { subscribers: 20000, topics: 10000 }), warmupMs: 2000, durationMs: 10000 },
    inbound: { connections: 100, inFlight: 10, warmupMs: 2000, durationMs: 10000 },
    memory: { connections: 10000, warmConnections: 200 },
    handshakes: { concurrency: 64, warmupMs: 1000, durationMs: 10000, maxHandshakes: 25000 },
  },
};

export const SERVERS = {
  ours: { label: 'ours', script: 'peers/ours.mjs' },
  // Another build of ours (BENCH_BASELINE=<checkout with dist/>), measured side by side for before/after figures.
  // `batch: false`: the baseline of issue 16 predates batch publish (set BENCH_BASELINE_BATCH=1 for a later one).
  base: { label: 'ours (baseline)', script: 'peers/ours.mjs', dialect: 'ours', batch: process.env.BENCH_BASELINE_BATCH === '1' },
  // A second build (BENCH_BASELINE_2=<checkout with dist/>), e.g. one before a feature while `base` is one before the round.
  base2: { label: 'ours (baseline 2)', script: 'peers/ours.mjs', dialect: 'ours' },
  // Ours with WS_WRITE_DELAY_MS (outbound frames of a socket coalesced for up to that long).
  'ours-wd1': { label: 'ours, write delay 1 ms', script: 'peers/ours.mjs', dialect: 'ours', env: { WS_WRITE_DELAY_MS: '1' } },
  'ours-wd5': { label: 'ours, write delay 5 ms', script: 'peers/ours.mjs', dialect: 'ours', env: { WS_WRITE_DELAY_MS: '5' } },
  // Ours retaining no recovery history (RECOVERY_HISTORY_SIZE=0): offsets and epochs are still assigned, nothing is kept to recover from.
  'ours-nohist': { label: 'ours, no recovery history', script: 'peers/ours.mjs', dialect: 'ours', env: { RECOVERY_HISTORY_SIZE: '0' } },
  bare: { label: 'bare ws', script: 'peers/bare-ws.mjs' },
  corked: { label: 'corked ws', script: 'peers/corked-ws.mjs' },
  sio: { label: 'Socket.IO', script: 'peers/socketio.mjs' },
};
/** Servers measured by default; `base` only when asked for (BENCH_SERVERS=ours,base,…). */
export const SERVER_KEYS = ['ours', 'bare', 'corked', 'sio'];
export const SCENARIO_KEYS = ['fanout', 'inbound', 'memory', 'handshakes'];

/** Reads `--name value` / `--name=value` from argv, then the BENCH_<NAME> environment variable. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return process.env[`BENCH_${name.toUpperCase()}`] ?? fallback;
}

export function resolveSize() {
  const name = option('size', 'full');
  if (!SIZES[name]) throw new Error(`BENCH_SIZE must be one of ${Object.keys(SIZES).join(', ')}, got ${name}`);
  return { name, ...SIZES[name] };
}

export function resolveList(name, all) {
  const raw = option(name, '');
  if (!raw) return all;
  const picked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of picked) if (!all.includes(p)) throw new Error(`unknown ${name} "${p}" (known: ${all.join(', ')})`);
  return picked;
}

/** One secret and API key per process tree: the orchestrator creates them, children inherit them. */
export const JWT_SECRET = (process.env.BENCH_JWT_SECRET ??= randomBytes(32).toString('hex'));
export const API_KEY = (process.env.BENCH_API_KEY ??= randomBytes(24).toString('hex'));

/** The client dialect a server speaks (the baseline speaks ours). */
export const dialectOf = (server) => SERVERS[server].dialect ?? server;

/** Environment of every server: limits raised so the benchmark measures cost, not refusals. */
export function serverEnv(kind) {
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET,
    REALTIME_API_KEY: API_KEY,
    HOST: '127.0.0.1',
    PORT: '0',
    // Every check stays on; only the numbers are raised.
    WS_RATE_PER_SEC: '1000000000',
    WS_RATE_BURST: '1000000000',
    WS_MAX_CONNECTIONS_PER_USER: '1000000',
    WS_HANDSHAKE_RATE_PER_IP: '1000000000',
    WS_MAX_ANON_CONNECTIONS_PER_IP: '1000000',
    ALERT_MAX_CONNECTIONS: '1000000',
  };
  Object.assign(env, SERVERS[kind].env);
  if (kind === 'base' || kind === 'base2') {
    const variable = kind === 'base' ? 'baseline' : 'baseline_2';
    const baseline = option(variable, '');
    if (!baseline) throw new Error(`server "${kind}" needs BENCH_${variable.toUpperCase()}=<checkout whose dist/ is built>`);
    env.BENCH_OURS_DIST = new URL(`file://${resolve(baseline)}/dist/`).href;
  }
  delete env.REDIS_URL; // single node, everything in memory
  delete env.NODE_OPTIONS;
  return env;
}

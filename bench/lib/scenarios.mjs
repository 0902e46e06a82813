// The four scenarios: their cases at a given size, how long a case may take, and the
// figures computed from the load generator's result and the server's own checkpoints.
const cpuSeconds = (cp) => (cp.end.cpuMicros - cp.start.cpuMicros) / 1e6;

const FEED_TITLES = { http: 'HTTP single publishes', batch: 'HTTP batches of 100', inproc: 'in-process publisher' };

/** fanout-1000 (one topic), fanout-1000-rate (at a fixed offered rate), topics-100-batch, … */
export function fanoutId(c) {
  if (c.family) return `${c.family}-${c.feed}`;
  return `fanout-${c.subscribers}${c.rateFrom ? '-rate' : ''}`;
}

function fanoutTitle(c) {
  const subs = c.subscribers.toLocaleString('en');
  if (c.family) return `${c.family}: ${subs} subscribers over ${c.topics.toLocaleString('en')} topics, ${FEED_TITLES[c.feed]}`;
  const rated = c.rateFrom ? `, at ${Math.round(c.rateFrom.fraction * 100)} % of ${c.rateFrom.server}'s saturated rate (${c.rateFrom.id})` : '';
  return `fan-out: ${subs} subscribers of one topic, ${FEED_TITLES[c.feed]}${rated}`;
}

/** Metric columns: key, label, which way is better, decimals. */
export const SCENARIOS = {
  fanout: {
    title: 'fan-out',
    load: 'fanout',
    cases: (size) =>
      size.fanout.cases.map((c) => ({
        id: fanoutId(c),
        title: fanoutTitle(c),
        config: { ...c, warmupMs: size.fanout.warmupMs, durationMs: size.fanout.durationMs },
        timeoutMs: size.fanout.warmupMs + size.fanout.durationMs + 120000 + c.subscribers * 20,
      })),
    metrics: [
      { key: 'deliveriesPerCpuS', label: 'deliveries per server-CPU-s', better: 'higher', digits: 0 },
      { key: 'deliveriesPerSec', label: 'deliveries/s', better: 'higher', digits: 0 },
      { key: 'cpuMicrosPerDelivery', label: 'server CPU µs per delivery', better: 'lower', digits: 2 },
      { key: 'publishesPerCpuS', label: 'publishes per server-CPU-s', better: 'higher', digits: 0 },
      { key: 'publishesPerSec', label: 'publishes/s', better: 'info', digits: 0 },
      { key: 'offeredRate', label: 'offered rate (publishes/s)', better: 'info', digits: 0 },
      { key: 'serverCpuS', label: 'server CPU s', better: 'info', digits: 2 },
      { key: 'cpuUtil', label: 'server CPU utilisation', better: 'info', digits: 2 },
      { key: 'loadCpuUtil', label: 'load generator CPU utilisation', better: 'info', digits: 2 },
      { key: 'p50Ms', label: 'p50 delivery latency ms', better: 'lower', digits: 2 },
      { key: 'p99Ms', label: 'p99 delivery latency ms', better: 'lower', digits: 2 },
      { key: 'publishes', label: 'publishes', better: 'info', digits: 0 },
      { key: 'frameBytes', label: 'frame bytes', better: 'info', digits: 0 },
    ],
    compute: (r, cp) => {
      const cpu = cpuSeconds(cp);
      return {
        deliveriesPerCpuS: r.deliveries / cpu,
        deliveriesPerSec: r.deliveries / (r.elapsedMs / 1000),
        cpuMicrosPerDelivery: (cpu * 1e6) / r.deliveries,
        publishesPerCpuS: r.publishes / cpu,
        publishesPerSec: r.publishes / (r.elapsedMs / 1000),
        offeredRate: r.offeredRate,
        serverCpuS: cpu,
        cpuUtil: cpu / (r.elapsedMs / 1000),
        loadCpuUtil: r.loadCpuS / (r.elapsedMs / 1000),
        p50Ms: r.latency.p50Ms,
        p99Ms: r.latency.p99Ms,
        publishes: r.publishes,
        frameBytes: r.frameBytes,
      };
    },
  },
  inbound: {
    title: 'inbound',
    load: 'inbound',
    cases: (size) => [
      {
        id: 'inbound',
        title: `inbound: ${size.inbound.connections} connections × ${size.inbound.inFlight} frames in flight (ours: ping→pong through guards, throttler, validation, filter; peers: echo)`,
        config: { ...size.inbound },
        timeoutMs: size.inbound.warmupMs + size.inbound.durationMs + 90000,
      },
    ],
    metrics: [
      { key: 'roundTripsPerCpuS', label: 'round trips per server-CPU-s', better: 'higher', digits: 0 },
      { key: 'roundTripsPerSec', label: 'round trips/s', better: 'higher', digits: 0 },
      { key: 'cpuMicrosPerRoundTrip', label: 'server CPU µs per round trip', better: 'lower', digits: 2 },
      { key: 'cpuUtil', label: 'server CPU utilisation', better: 'info', digits: 2 },
      { key: 'loadCpuUtil', label: 'load generator CPU utilisation', better: 'info', digits: 2 },
      { key: 'p50Ms', label: 'p50 latency ms', better: 'lower', digits: 2 },
      { key: 'p99Ms', label: 'p99 latency ms', better: 'lower', digits: 2 },
    ],
    compute: (r, cp) => {
      const cpu = cpuSeconds(cp);
      return {
        roundTripsPerCpuS: r.roundTrips / cpu,
        roundTripsPerSec: r.roundTrips / (r.elapsedMs / 1000),
        cpuMicrosPerRoundTrip: (cpu * 1e6) / r.roundTrips,
        cpuUtil: cpu / (r.elapsedMs / 1000),
        loadCpuUtil: r.loadCpuS / (r.elapsedMs / 1000),
        p50Ms: r.latency.p50Ms,
        p99Ms: r.latency.p99Ms,
      };
    },
  },
  memory: {
    title: 'memory',
    load: 'memory',
    cases: (size) => [
      {
        id: 'memory',
        title: `memory: ${size.memory.connections.toLocaleString('en')} idle authenticated connections, one subscription each (after GC)`,
        config: { ...size.memory },
        timeoutMs: 120000 + size.memory.connections * 30,
      },
    ],
    metrics: [
      { key: 'heapPerConn', label: 'heap bytes per connection', better: 'lower', digits: 0 },
      { key: 'rssPerConn', label: 'RSS bytes per connection', better: 'lower', digits: 0 },
      { key: 'rssMiB', label: 'RSS MiB when loaded', better: 'info', digits: 1 },
    ],
    compute: (r, cp) => {
      if (!cp.loaded.gcExposed) throw new Error('server ran without --expose-gc');
      return {
        heapPerConn: (cp.loaded.heapUsed - cp.base.heapUsed) / r.connections,
        rssPerConn: (cp.loaded.rss - cp.base.rss) / r.connections,
        rssMiB: cp.loaded.rss / 1048576,
      };
    },
  },
  handshakes: {
    title: 'handshakes',
    load: 'handshakes',
    cases: (size) => [
      {
        id: 'handshakes',
        title: `handshakes: upgrades with a Bearer JWT verified, ${size.handshakes.concurrency} in flight`,
        config: { ...size.handshakes },
        timeoutMs: size.handshakes.warmupMs + size.handshakes.durationMs + 90000,
      },
    ],
    metrics: [
      { key: 'handshakesPerSec', label: 'handshakes/s', better: 'higher', digits: 0 },
      { key: 'handshakesPerCpuS', label: 'handshakes per server-CPU-s', better: 'higher', digits: 0 },
      { key: 'cpuUtil', label: 'server CPU utilisation', better: 'info', digits: 2 },
      { key: 'loadCpuUtil', label: 'load generator CPU utilisation', better: 'info', digits: 2 },
      { key: 'p50Ms', label: 'p50 handshake ms', better: 'lower', digits: 2 },
      { key: 'p99Ms', label: 'p99 handshake ms', better: 'lower', digits: 2 },
    ],
    compute: (r, cp) => {
      const cpu = cpuSeconds(cp);
      return {
        handshakesPerSec: r.handshakes / (r.elapsedMs / 1000),
        handshakesPerCpuS: r.handshakes / cpu,
        cpuUtil: cpu / (r.elapsedMs / 1000),
        loadCpuUtil: r.loadCpuS / (r.elapsedMs / 1000),
        p50Ms: r.latency.p50Ms,
        p99Ms: r.latency.p99Ms,
      };
    },
  },
};

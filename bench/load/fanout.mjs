// Fan-out load generator (child process): `subscribers` raw ws clients spread over `topics`
// topics, and a feed of ~200-byte updates, topics taken round-robin (spread uniformly):
//   feed http   — each update its own HTTP publish;
//   feed batch  — HTTP batches of `batch` updates (ours: docs/protocol.md §8; peers: the same
//                 array on their /publish);
//   feed inproc — a publisher inside the server process (bench/lib/server-ipc.mjs), asked over
//                 IPC for `count` publishes at a time; every server runs the same loop.
// Closed loop by default (saturation); with `rate` (publishes/s) an open loop at that offered
// rate, so latency is about the server and not the load generator's queue. Counts every
// delivery; reads the publish timestamp only on a sample of ~100 sockets.
import { createHistogram, performance } from 'node:perf_hooks';
import { loadMain, measureWindow, openSubscribed, pool, publisher, signToken, sleep, summarize } from '../lib/client.mjs';
import { epochMicros } from '../lib/server-ipc.mjs';

const T_MARKER = Buffer.from('"t":');
const PAD = 'x'.repeat(104); // delivered frames come out at ~200 bytes


function readTimestamp(buf) {
  const at = buf.indexOf(T_MARKER);
  if (at < 0) return -1;
  let value = 0;
  for (let i = at + 4; i < buf.length; i += 1) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return value;
}

loadMain(async (cfg, checkpoint) => {
  const { kind, port, subscribers, topics, warmupMs, durationMs } = cfg;
  // Closed loop: a publish counts as in flight until its HTTP answer and (in aggregate) its
  // deliveries are back. At most `maxHttp` requests and `window` deliveries outstanding:
  // two publishes' worth for a big topic (the server fans out one while the clients drain
  // the other), more publishes for small topics so HTTP round trips do not idle the server.
  // Latency is then bounded by that queue instead of growing with the run.
  const maxHttp = cfg.maxHttp ?? 16;
  const topicNames = Array.from({ length: topics }, (_, i) => `T${i}`);
  const members = new Array(topics).fill(0);
  const sampleEvery = Math.max(1, Math.floor(subscribers / 100));
  const histogram = createHistogram();

  let delivered = 0;
  let expected = 0;
  let unexpectedCloses = 0;
  let running = false;
  let blocked = false;
  let pumpScheduled = false;
  let frameBytes = 0;

  function onDelivery(data) {
    if (data.length < 16) return; // Engine.IO ping, answered elsewhere
    delivered += 1;
    if (blocked && !pumpScheduled) {
      pumpScheduled = true;
      setImmediate(pump);
    }
  }
  function onSampledDelivery(data) {
    if (data.length < 16) return;
    frameBytes = data.length;
    const sent = readTimestamp(data);
    if (sent > 0) histogram.record(Math.max(1, epochMicros() - sent));
    onDelivery(data);
  }
  const onClose = () => (unexpectedCloses += 1);

  const sockets = await pool(subscribers, 100, async (i) => {
    const t = i % topics;
    const ws = await openSubscribed(kind, port, signToken(`fan-${i}`), topicNames[t], i + 1);
    members[t] += 1;
    ws.on('message', i % sampleEvery === 0 ? onSampledDelivery : onDelivery);
    ws.on('close', onClose);
    return ws;
  });

  const feed = cfg.feed ?? 'http';
  const batch = feed === 'batch' ? (cfg.batch ?? 100) : 1;
  const largest = Math.max(...members);
  const window = cfg.window ?? Math.max(1000, 2 * largest, feed === 'batch' ? 2 * batch * largest : 0);
  const pub = publisher(kind, port, maxHttp);
  let inflight = 0;
  let seq = 0;
  let publishes = 0;
  let httpErrors = 0;
  let firstError;
  let overloaded = false;

  /** Deliveries `count` publishes from `seq` on will cause (topics round-robin). */
  function fanout(first, count) {
    if (count >= topics) {
      let sum = Math.floor(count / topics) * subscribers;
      for (let k = 0; k < count % topics; k += 1) sum += members[(first + k) % topics];
      return sum;
    }
    let sum = 0;
    for (let k = 0; k < count; k += 1) sum += members[(first + k) % topics];
    return sum;
  }
  const update = (n) => `{"t":${epochMicros()},"seq":${n},"pad":"${PAD}"}`;

  /** Sends `count` publishes starting at `seq` by the configured feed; false when the HTTP cap is reached. */
  function send(count) {
    const first = seq;
    const n = fanout(first, count);
    if (feed === 'inproc') {
      process.send({ type: 'publish', first, count, topics, pad: PAD });
    } else {
      if (inflight >= maxHttp) return false;
      inflight += 1;
      const done = (err) => {
        inflight -= 1;
        if (err) {
          httpErrors += 1;
          expected -= n;
          firstError ??= err.message;
        }
        if (running && cfg.rate === undefined) pump();
      };
      if (feed === 'batch') {
        const items = [];
        for (let k = 0; k < count; k += 1) items.push({ topic: topicNames[(first + k) % topics], dataJson: update(first + k) });
        pub.publishBatch(items, done);
      } else pub.publish(topicNames[first % topics], update(first), done);
    }
    seq += count;
    publishes += count;
    expected += n;
    return true;
  }

  // Closed loop: as many publishes as the window of outstanding deliveries allows.
  const chunk = feed === 'inproc' ? Math.max(1, Math.floor(window / (2 * Math.max(1, subscribers / topics)))) : batch;
  function pump() {
    pumpScheduled = false;
    blocked = false;
    while (running) {
      const n = fanout(seq, chunk);
      if (expected - delivered + n > Math.max(window, n)) {
        blocked = true;
        return;
      }
      if (!send(chunk)) return;
    }
  }

  // Open loop at `rate` publishes/s: every tick sends what is due (HTTP: within the request cap).
  let ticker;
  function startRate() {
    const started = performance.now();
    const base = publishes;
    ticker = setInterval(() => {
      if (expected - delivered > 50 * window) overloaded = true; // the server fell hopelessly behind
      if (overloaded) return;
      let due = Math.floor(((performance.now() - started) * cfg.rate) / 1000) - (publishes - base);
      while (due > 0) {
        const count = feed === 'http' ? 1 : Math.min(due, feed === 'batch' ? batch : due);
        if (!send(count)) break;
        due -= count;
      }
    }, 2);
  }

  /** Publishes for `ms`, then waits (bounded) until every expected delivery has arrived. */
  async function phase(ms) {
    const started = performance.now();
    running = true;
    if (cfg.rate === undefined) pump();
    else startRate();
    await sleep(ms);
    running = false;
    clearInterval(ticker);
    const drainUntil = performance.now() + 15000;
    while ((inflight > 0 || delivered < expected) && performance.now() < drainUntil) await sleep(2);
    return performance.now() - started;
  }

  const { elapsedMs, loadCpuS } = await measureWindow(checkpoint, phase, {
    warmupMs,
    durationMs,
    reset: () => {
      delivered = 0;
      expected = 0;
      publishes = 0;
      histogram.reset();
    },
  });

  const result = {
    subscribers,
    topics,
    feed,
    offeredRate: cfg.rate ?? null,
    publishes,
    deliveries: delivered,
    expected,
    elapsedMs,
    loadCpuS,
    frameBytes,
    latency: summarize(histogram),
  };
  const problems = [];
  if (overloaded) problems.push(`fell behind the offered rate of ${cfg.rate}/s by over ${50 * window} deliveries`);
  if (httpErrors) problems.push(`${httpErrors} publishes failed (${firstError})`);
  if (delivered !== expected) problems.push(`${expected - delivered} of ${expected} deliveries missing`);
  if (unexpectedCloses) problems.push(`${unexpectedCloses} subscriber connections closed by the server`);
  if (publishes === 0) problems.push('no publish completed');
  pub.close();
  for (const ws of sockets) ws.terminate();
  if (problems.length) throw new Error(problems.join('; '));
  return result;
});

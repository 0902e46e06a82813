// Fan-out load generator (child process): `subscribers` raw ws clients spread over `topics`
// topics, and a publisher that POSTs each ~200-byte update as its own HTTP request. Counts
// every delivery; reads the publish timestamp only on a sample of ~100 sockets.
import { createHistogram, performance } from 'node:perf_hooks';
import { loadMain, measureWindow, openSubscribed, pool, publisher, signToken, sleep, summarize } from '../lib/client.mjs';

const T_MARKER = Buffer.from('"t":');
const PAD = 'x'.repeat(104); // delivered frames come out at ~200 bytes

/** Microseconds since this process started; publisher and subscribers share the clock. */
const nowMicros = () => Math.round(performance.now() * 1000);

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
    if (sent > 0) histogram.record(Math.max(1, nowMicros() - sent));
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

  const window = cfg.window ?? Math.max(1000, 2 * Math.max(...members));
  const pub = publisher(kind, port, maxHttp);
  let inflight = 0;
  let seq = 0;
  let publishes = 0;
  let httpErrors = 0;
  let firstError;

  function pump() {
    pumpScheduled = false;
    blocked = false;
    while (running && inflight < maxHttp) {
      const t = seq % topics;
      const n = members[t];
      if (expected - delivered + n > Math.max(window, n)) {
        blocked = true;
        return;
      }
      seq += 1;
      publishes += 1;
      inflight += 1;
      expected += n;
      const dataJson = `{"t":${nowMicros()},"seq":${seq},"pad":"${PAD}"}`;
      pub.publish(topicNames[t], dataJson, (err) => {
        inflight -= 1;
        if (err) {
          httpErrors += 1;
          expected -= n;
          firstError ??= err.message;
        }
        if (running) pump();
      });
    }
  }

  /** Publishes for `ms`, then waits (bounded) until every expected delivery has arrived. */
  async function phase(ms) {
    const started = performance.now();
    running = true;
    pump();
    await sleep(ms);
    running = false;
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
    publishes,
    deliveries: delivered,
    expected,
    elapsedMs,
    loadCpuS,
    frameBytes,
    latency: summarize(histogram),
  };
  const problems = [];
  if (httpErrors) problems.push(`${httpErrors} publishes failed (${firstError})`);
  if (delivered !== expected) problems.push(`${expected - delivered} of ${expected} deliveries missing`);
  if (unexpectedCloses) problems.push(`${unexpectedCloses} subscriber connections closed by the server`);
  if (publishes === 0) problems.push('no publish completed');
  pub.close();
  for (const ws of sockets) ws.terminate();
  if (problems.length) throw new Error(problems.join('; '));
  return result;
});

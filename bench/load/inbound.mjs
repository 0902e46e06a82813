// Inbound load generator (child process): `connections` authenticated raw ws clients, each
// keeping `inFlight` frames outstanding (ours: `ping` → `pong` through the whole pipeline;
// bare/corked ws: echo; Socket.IO: an `echo` event). Counts round trips and their latency.
import { createHistogram, performance } from 'node:perf_hooks';
import { DIALECTS, loadMain, measureWindow, openClient, pool, signToken, sleep, startsWith, summarize } from '../lib/client.mjs';

loadMain(async (cfg, checkpoint) => {
  const { kind, port, connections, inFlight, warmupMs, durationMs } = cfg;
  const { inboundFrame, inboundReplyPrefix } = DIALECTS[kind];
  const histogram = createHistogram();
  let running = false;
  let completed = 0;
  let outstanding = 0;
  let badReplies = 0;
  let firstBad;
  let unexpectedCloses = 0;

  const clients = await pool(connections, 50, async (i) => {
    const ws = await openClient(kind, port, signToken(`in-${i}`));
    // Replies come back in order on one connection: a ring of send times per connection.
    const sentAt = new Float64Array(inFlight);
    let head = 0;
    let queued = 0;
    const client = {
      ws,
      send() {
        sentAt[(head + queued) % inFlight] = performance.now();
        queued += 1;
        outstanding += 1;
        ws.send(inboundFrame);
      },
    };
    ws.on('message', (data) => {
      if (data.length < 4 || queued === 0) return; // Engine.IO ping / nothing outstanding
      const now = performance.now();
      if (!startsWith(data, inboundReplyPrefix)) {
        badReplies += 1;
        firstBad ??= String(data).slice(0, 200);
      }
      histogram.record(Math.max(1, Math.round((now - sentAt[head]) * 1000)));
      head = (head + 1) % inFlight;
      queued -= 1;
      outstanding -= 1;
      completed += 1;
      if (running) client.send();
    });
    ws.on('close', () => (unexpectedCloses += 1));
    return client;
  });

  async function phase(ms) {
    const started = performance.now();
    running = true;
    for (const client of clients) for (let k = 0; k < inFlight; k += 1) client.send();
    await sleep(ms);
    running = false;
    const drainUntil = performance.now() + 10000;
    while (outstanding > 0 && performance.now() < drainUntil) await sleep(2);
    return performance.now() - started;
  }

  const { elapsedMs, loadCpuS } = await measureWindow(checkpoint, phase, {
    warmupMs,
    durationMs,
    reset: () => {
      completed = 0;
      histogram.reset();
    },
  });

  const problems = [];
  if (badReplies) problems.push(`${badReplies} unexpected replies, first: ${firstBad}`);
  if (outstanding) problems.push(`${outstanding} frames never answered`);
  if (unexpectedCloses) problems.push(`${unexpectedCloses} connections closed by the server`);
  if (completed === 0) problems.push('no round trip completed');
  for (const { ws } of clients) ws.terminate();
  if (problems.length) throw new Error(problems.join('; '));
  return { connections, inFlight, roundTrips: completed, elapsedMs, loadCpuS, latency: summarize(histogram) };
});

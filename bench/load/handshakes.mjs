// Handshake load generator (child process): `concurrency` workers each opening a connection
// with a fresh upgrade and a Bearer JWT, waiting until the server says it is usable (our
// `connected` frame, Socket.IO's namespace CONNECT ack), then dropping it and starting over.
import { createHistogram, performance } from 'node:perf_hooks';
import { loadMain, measureWindow, openClient, signToken, summarize } from '../lib/client.mjs';

loadMain(async (cfg, checkpoint) => {
  const { kind, port, concurrency, warmupMs, durationMs, maxHandshakes } = cfg;
  const tokens = Array.from({ length: 1000 }, (_, i) => signToken(`hs-${i}`));
  const histogram = createHistogram();
  let completed = 0;
  let failures = 0;
  let firstFailure;
  let started = 0;

  async function phase(ms, limit) {
    const begin = performance.now();
    const stopAt = begin + ms;
    let attempts = 0;
    async function worker() {
      while (performance.now() < stopAt && attempts < limit && failures < 50) {
        attempts += 1;
        const t0 = performance.now();
        try {
          const ws = await openClient(kind, port, tokens[started++ % tokens.length], 10000);
          histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          completed += 1;
          ws.terminate();
        } catch (err) {
          failures += 1;
          firstFailure ??= err.message;
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    return performance.now() - begin;
  }

  const { elapsedMs, loadCpuS } = await measureWindow(checkpoint, (ms) => phase(ms, maxHandshakes), {
    warmupMs,
    durationMs,
    reset: () => {
      completed = 0;
      histogram.reset();
    },
  });
  if (failures) throw new Error(`${failures} handshakes failed, first: ${firstFailure}`);
  return { concurrency, handshakes: completed, elapsedMs, loadCpuS, latency: summarize(histogram) };
});

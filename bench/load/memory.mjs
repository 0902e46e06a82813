// Memory load generator (child process): opens `warmConnections` subscribed connections, lets
// the orchestrator take the server's baseline (after GC), then `connections` more, each with
// one subscription of its own, idle, and lets it measure again. Per connection = delta / count.
import { loadMain, openSubscribed, pool, signToken, sleep } from '../lib/client.mjs';

loadMain(async (cfg, checkpoint) => {
  const { kind, port, connections, warmConnections } = cfg;
  let unexpectedCloses = 0;
  const open = (offset, count) =>
    pool(count, 100, async (i) => {
      const n = offset + i;
      const ws = await openSubscribed(kind, port, signToken(`mem-${n}`), `M${n}`, n + 1);
      ws.on('close', () => (unexpectedCloses += 1));
      return ws;
    });

  const sockets = await open(0, warmConnections);
  await sleep(500);
  await checkpoint('base', { gc: true });
  sockets.push(...(await open(warmConnections, connections)));
  await sleep(1000);
  await checkpoint('loaded', { gc: true });

  const openNow = sockets.filter((ws) => ws.readyState === 1).length;
  if (unexpectedCloses) throw new Error(`${unexpectedCloses} idle connections closed by the server`);
  for (const ws of sockets) ws.terminate();
  return { connections, open: openNow - warmConnections };
});

/**
 * Counting what Redis runs for an action, exactly, on a Redis shared with other runs: MONITOR
 * over a raw socket, filtered on a key prefix unique to the test. Imports nothing of the
 * server, so Redis-only suites can use it too.
 */
import { createConnection, type Socket } from 'node:net';
import { TEST_REDIS_URL } from './test-redis-env.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every command Redis runs that mentions `prefix` while `act` runs, as its arguments with the
 * prefix removed (script-internal ones start with `lua:`). MONITOR over a raw socket,
 * filtered on the unique prefix: exact on a Redis shared with other runs. `urls`: one server,
 * or every master of a cluster (MONITOR sees one server only); the commands of several
 * servers come one server after the other, each in its own order.
 */
export async function redisCommandsOn(prefix: string, act: () => Promise<void>, urls: string | readonly string[] = TEST_REDIS_URL): Promise<string[][]> {
  const monitors = await Promise.all((typeof urls === 'string' ? [urls] : urls).map((url) => monitor(url, prefix)));
  try {
    await sleep(100);
    await act();
    await sleep(200);
  } finally {
    for (const { socket } of monitors) socket.destroy();
  }
  return monitors.flatMap(({ seen }) => seen);
}

async function monitor(url: string, prefix: string): Promise<{ socket: Socket; seen: string[][] }> {
  const { hostname, port } = new URL(url);
  const socket = createConnection({ host: hostname, port: Number(port || 6379) });
  let buffered = '';
  const seen: string[][] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\r\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 2);
      newline = buffered.indexOf('\r\n');
      if (!line.includes(prefix)) continue;
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.split(prefix).join(''));
      seen.push([`${line.includes(' lua]') ? 'lua:' : ''}${args[0]!.toLowerCase()}`, ...args.slice(1)]);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write('MONITOR\r\n');
  return { socket, seen };
}

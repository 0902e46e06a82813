import { createSecretKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';

// Server side of the orchestrator protocol, shared by every server under test (bench/peers/*).
// The server reports its own CPU time (process.cpuUsage) and memory (after GC when run with
// --expose-gc), so nothing measured comes from the load generator's process.

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function collect(gc) {
  if (gc && typeof globalThis.gc === 'function') {
    for (let i = 0; i < 3; i += 1) {
      globalThis.gc();
      await settle();
    }
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    cpuMicros: cpu.user + cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    gcExposed: typeof globalThis.gc === 'function',
  };
}

// CPU profile of the measurement window only (the orchestrator starts it at the load
// generator's `start` checkpoint and stops it at `end`), through the in-process inspector.
let session;
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
async function profile(action, file) {
  if (action === 'start') {
    session ??= new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
  } else {
    const { profile: data } = await post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(data));
  }
}

/** Microseconds since the epoch: the clock every process of a run shares (send times in payloads). */
export const epochMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/**
 * The in-process feed, the same loop in every server: `count` publishes of a ~200-byte
 * update, topics `T<k>` taken round-robin from `first`, each stamped with its send time.
 * `publish(topic, data)` is the server's own in-process publish (ours: RealtimePublisher).
 */
function publishLoop(publish, { first, count, topics, pad }) {
  for (let i = 0; i < count; i += 1) {
    const seq = first + i;
    publish(`T${seq % topics}`, { t: epochMicros(), seq, pad });
  }
}

/**
 * Announces the listening port to the orchestrator and answers `stats` / `exit` requests,
 * and `publish` (the in-process feed) when given the server's `publish(topic, data)`.
 */
export function serveIpc(port, publish) {
  if (!process.send) throw new Error('run this server through bench/run.mjs (needs an IPC channel)');
  process.on('message', (msg) => {
    if (msg?.type === 'publish') {
      publishLoop(publish, msg);
    } else if (msg?.type === 'stats') {
      collect(Boolean(msg.gc)).then((stats) => process.send({ type: 'stats', id: msg.id, stats }));
    } else if (msg?.type === 'profile') {
      profile(msg.action, msg.file).then(
        () => process.send({ type: 'profiled', id: msg.id }),
        (err) => process.send({ type: 'profiled', id: msg.id, error: err.message }),
      );
    } else if (msg?.type === 'exit') {
      process.exit(0); // --cpu-prof writes its profile on this exit
    }
  });
  // The orchestrator went away: never linger.
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port, pid: process.pid });
}

/** Reads a JSON request body of at most `limit` bytes. */
export function readJson(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

/**
 * The HTTP publish endpoint every peer exposes: POST /publish {topic, data} with X-Api-Key,
 * answered 202 like ours; or a batch, an array of them (ours: docs/protocol.md §8), published
 * in order and answered `{"accepted":true,"count":N}`. `publish(topic, data)` does the fan-out.
 */
export function publishHandler(apiKey, publish) {
  return (req, res) => {
    if (req.method !== 'POST' || req.url !== '/publish') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers['x-api-key'] !== apiKey) {
      res.writeHead(401).end();
      return;
    }
    const isPublish = (item) => typeof item?.topic === 'string' && typeof item.data === 'object' && item.data !== null;
    readJson(req, 1024 * 1024).then(
      (body) => {
        if (Array.isArray(body)) {
          if (body.length === 0 || body.length > 1000 || !body.every(isPublish)) return res.writeHead(400).end();
          for (const item of body) publish(item.topic, item.data);
          res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":true,"count":${body.length}}`);
          return;
        }
        if (!isPublish(body)) {
          res.writeHead(400).end();
          return;
        }
        publish(body.topic, body.data);
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
      },
      () => {
        if (!res.headersSent) res.writeHead(400).end();
      },
    );
  };
}

/**
 * The peers' JWT key. A KeyObject made once, as a careful app does: handed a string,
 * jsonwebtoken first tries it as a PEM public key, and OpenSSL 3 failing to parse it costs
 * ~0.35 ms per verification (≈ 30× the HMAC check itself).
 */
export function secretKey(secret) {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** `Authorization: Bearer <jwt>` → verified HS256 claims, or undefined. */
export function verifyBearer(jwt, secret, header) {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
  try {
    const claims = jwt.verify(header.slice(7), secret, { algorithms: ['HS256'], clockTolerance: 5 });
    return typeof claims.sub === 'string' && typeof claims.exp === 'number' ? claims : undefined;
  } catch {
    return undefined;
  }
}

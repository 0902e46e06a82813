// Load-generator side: the IPC scaffold, token signing, and the few protocol details that
// differ between the servers under test (URL, first frame, subscribe, ping/echo, publish).
// Clients are raw `ws` sockets everywhere; Socket.IO is spoken as raw Engine.IO v4 frames.
import { createSecretKey } from 'node:crypto';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { API_KEY, JWT_SECRET } from './config.mjs';

export { WebSocket };

/** Runs `main(config, checkpoint)` as a load generator child process of bench/lib/proc.mjs. */
export function loadMain(main) {
  const waiting = new Map();
  process.on('message', (msg) => {
    if (msg?.type === 'config') {
      const deadline = setTimeout(() => {
        process.send({ type: 'done', error: `load generator exceeded its deadline (${msg.config.deadlineMs} ms)` });
        setTimeout(() => process.exit(2), 100);
      }, msg.config.deadlineMs ?? 120000);
      main(msg.config, checkpoint).then(
        (result) => process.send({ type: 'done', result }),
        (err) => process.send({ type: 'done', error: err?.stack ?? String(err) }),
      ).finally(() => clearTimeout(deadline));
    } else if (msg?.type === 'continue') {
      const resolve = waiting.get(msg.name);
      waiting.delete(msg.name);
      resolve?.(msg);
    } else if (msg?.type === 'exit') {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  /** Lets the orchestrator snapshot the server, then continues. */
  function checkpoint(name, { gc = false } = {}) {
    return new Promise((resolve, reject) => {
      waiting.set(name, (msg) => (msg.error ? reject(new Error(msg.error)) : resolve()));
      process.send({ type: 'checkpoint', name, gc });
    });
  }
}

// A KeyObject, not the string: jsonwebtoken first tries a string as a PEM key, and OpenSSL 3
// failing to parse it costs ~0.3 ms per call.
const SIGNING_KEY = createSecretKey(Buffer.from(JWT_SECRET));

/** HS256 token with `sub` and `exp` (an hour), as the servers expect at the upgrade. */
export function signToken(sub) {
  return jwt.sign({ sub, name: sub }, SIGNING_KEY, { algorithm: 'HS256', expiresIn: 3600 });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function startsWith(buf, prefix) {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

const SIO_PING = 0x32; // Engine.IO "2"

/** Per-server protocol. `frame(event, data)` builds a client frame; replies are matched by prefix. */
export const DIALECTS = {
  ours: {
    path: '/ws/tracking',
    publishPath: '/realtime/publish',
    publishBody: (topic, dataJson) => `{"namespace":"tracking","topic":${JSON.stringify(topic)},"data":${dataJson}}`,
    subscribeFrame: (topic, id) => `{"event":"tracking.subscribe","data":{"trackingId":${JSON.stringify(topic)}},"id":${id}}`,
    subscribedPrefix: Buffer.from('{"event":"tracking.subscribed"'),
    // The cheapest authenticated round trip through the whole pipeline.
    inboundFrame: '{"event":"ping","data":{},"id":1}',
    inboundReplyPrefix: Buffer.from('{"event":"pong"'),
  },
  bare: {
    path: '/',
    publishPath: '/publish',
    publishBody: (topic, dataJson) => `{"topic":${JSON.stringify(topic)},"data":${dataJson}}`,
    subscribeFrame: (topic, id) => `{"event":"tracking.subscribe","data":{"trackingId":${JSON.stringify(topic)}},"id":${id}}`,
    subscribedPrefix: Buffer.from('{"event":"tracking.subscribed"'),
    // Echoed verbatim.
    inboundFrame: '{"event":"ping","data":{},"id":1}',
    inboundReplyPrefix: Buffer.from('{"event":"ping"'),
  },
  sio: {
    path: '/socket.io/?EIO=4&transport=websocket',
    publishPath: '/publish',
    publishBody: (topic, dataJson) => `{"topic":${JSON.stringify(topic)},"data":${dataJson}}`,
    subscribeFrame: (topic) => `42["tracking.subscribe",{"trackingId":${JSON.stringify(topic)}}]`,
    subscribedPrefix: Buffer.from('42["tracking.subscribed"'),
    inboundFrame: '42["echo",{}]',
    inboundReplyPrefix: Buffer.from('42["echo"'),
  },
};
DIALECTS.corked = DIALECTS.bare;

/** True for Engine.IO pings, which are answered (and not counted) by `openClient`'s handler. */
export function isControl(kind, buf) {
  return kind === 'sio' && buf.length === 1 && buf[0] === SIO_PING;
}

/**
 * Opens one authenticated connection and resolves once the server has said it is usable:
 * ours/bare/corked send a `connected` frame first; Socket.IO needs Engine.IO open ("0{…}"),
 * then the namespace CONNECT ("40") to be acknowledged.
 */
export function openClient(kind, port, token, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${DIALECTS[kind].path}`, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => fail(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    let stage = 0;
    function fail(err) {
      clearTimeout(timer);
      ws.off('message', onFirst);
      ws.terminate();
      reject(err);
    }
    function onFirst(data) {
      if (kind !== 'sio') {
        ws.off('message', onFirst);
        clearTimeout(timer);
        return resolve(ws);
      }
      if (stage === 0 && data[0] === 0x30 /* "0" open */) {
        stage = 1;
        ws.send('40');
      } else if (stage === 1 && data[0] === 0x34 && data[1] === 0x30 /* "40" */) {
        ws.off('message', onFirst);
        clearTimeout(timer);
        resolve(ws);
      } else if (!isControl(kind, data)) fail(new Error(`unexpected Socket.IO frame ${String(data).slice(0, 80)}`));
    }
    ws.on('message', onFirst);
    if (kind === 'sio') ws.on('message', (data) => isControl(kind, data) && ws.send('3'));
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

/** Resolves with the next non-control message of `ws`. */
export function nextData(kind, ws, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`no frame within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(data) {
      if (isControl(kind, data)) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(data);
    }
    ws.on('message', onMessage);
  });
}

/** Opens, then subscribes to `topic` and waits for the acknowledgement. */
export async function openSubscribed(kind, port, token, topic, id = 1) {
  const ws = await openClient(kind, port, token);
  const ack = nextData(kind, ws);
  ws.send(DIALECTS[kind].subscribeFrame(topic, id));
  const reply = await ack;
  if (!startsWith(reply, DIALECTS[kind].subscribedPrefix)) {
    ws.terminate();
    throw new Error(`subscribe to ${topic} answered ${String(reply).slice(0, 160)}`);
  }
  return ws;
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; rejects on first error. */
export async function pool(count, concurrency, task) {
  const results = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next;
      next += 1;
      results[i] = await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** A keep-alive HTTP publisher for the server's publish endpoint. */
export function publisher(kind, port, maxSockets) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const dialect = DIALECTS[kind];
  function post(body, done) {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: dialect.publishPath,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': API_KEY },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode >= 200 && res.statusCode < 300 ? undefined : new Error(`publish answered HTTP ${res.statusCode}`)));
      },
    );
    req.on('error', done);
    req.end(body);
  }
  return {
    /** POSTs one publish; calls `done(err)` when the response has been read. */
    publish: (topic, dataJson, done) => post(dialect.publishBody(topic, dataJson), done),
    /** POSTs a batch (a JSON array of the dialect's publish bodies, docs/protocol.md §8), in order. */
    publishBatch: (items, done) => post(`[${items.map((item) => dialect.publishBody(item.topic, item.dataJson)).join(',')}]`, done),
    close: () => agent.destroy(),
  };
}

/**
 * The measurement window of every load generator: `phase(warmupMs)`, then `reset()` of its
 * counters, then `phase(durationMs)` between the orchestrator's `start` and `end`
 * checkpoints. Returns the measured phase's duration and the load generator's own CPU over it.
 */
export async function measureWindow(checkpoint, phase, { warmupMs, durationMs, reset }) {
  await phase(warmupMs);
  reset();
  await checkpoint('start');
  const cpu0 = process.cpuUsage();
  const elapsedMs = await phase(durationMs);
  const cpu = process.cpuUsage(cpu0);
  await checkpoint('end');
  return { elapsedMs, loadCpuS: (cpu.user + cpu.system) / 1e6 };
}

/** Summary of a perf_hooks histogram recorded in microseconds, as milliseconds. */
export function summarize(histogram) {
  if (histogram.count === 0) return { count: 0, p50Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  return {
    count: histogram.count,
    p50Ms: histogram.percentile(50) / 1000,
    p99Ms: histogram.percentile(99) / 1000,
    maxMs: histogram.max / 1000,
    meanMs: histogram.mean / 1000,
  };
}

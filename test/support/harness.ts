import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt, { type SignOptions } from 'jsonwebtoken';
import WebSocket from 'ws';
import type { HarnessConfig } from './server-process.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled harness (`npm run build:test`). */
export const SERVER_PROCESS = join(ROOT, 'build', 'test', 'support', 'server-process.js');
/** The compiled production entry point (`npm run build`). */
export const MAIN_ENTRY = join(ROOT, 'dist', 'main.js');

/**
 * Fails fast when a compiled file is older than its source (or missing): the e2e suites run
 * build/ and dist/, so a stale build would test yesterday's code. `npm test` builds first.
 */
function assertBuildFresh(): void {
  const stale: string[] = [];
  const walk = (dir: string, check: (source: string, relative: string) => void, relative = ''): void => {
    for (const entry of readdirSync(join(dir, relative), { withFileTypes: true })) {
      const path = join(relative, entry.name);
      if (entry.isDirectory()) walk(dir, check, path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) check(join(dir, path), path);
    }
  };
  const compiledAt = (file: string): number => (existsSync(file) ? statSync(file).mtimeMs : -1);
  const expect = (source: string, compiled: string): void => {
    if (compiledAt(compiled) < statSync(source).mtimeMs) stale.push(compiled.slice(ROOT.length + 1));
  };
  walk(join(ROOT, 'src'), (source, relative) => {
    const js = relative.replace(/\.ts$/, '.js');
    expect(source, join(ROOT, 'build', 'src', js));
    expect(source, join(ROOT, 'dist', js));
  });
  walk(join(ROOT, 'test', 'support'), (source, relative) => expect(source, join(ROOT, 'build', 'test', 'support', relative.replace(/\.ts$/, '.js'))));
  if (stale.length > 0) {
    throw new Error(`stale build: ${stale.length} compiled file(s) older than their source, e.g. ${stale.slice(0, 3).join(', ')}; run npm run build && npm run build:test`);
  }
}
assertBuildFresh();

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';

export interface Stats {
  connections: { connections: number; users: number; namespaces: number };
  subscriptions: { topics: number; subscriptions: number; connections: number };
  limiter: { users: number; anonymousIps: number };
  handshakeIps: number;
  /** Sources (kind, hashed IP) the audit log's pattern detection tracks (bounded, finding 24). */
  auditSources: number;
  lifecycle: { heartbeatTerminations: number; timers: number; revalidation: RevalidationStats };
  activity: { buffered: number; flushed: number; dropped: number };
  /** Subscriptions of recoverable streams the node tracks (0 once every subscriber left). */
  streamSubscriptions: number;
  chat: { commodities: number; messages: number; bytes: number };
  /** Collaboration rooms known to the room presence store (0 once every room is empty, finding 20). */
  rooms: number;
  /** The Redis broker's counters (only when the server runs with `redisUrl`). */
  broker?: {
    published: number;
    publishFailures: number;
    received: number;
    ownEchoes: number;
    rejected: { unsigned: number; malformed: number; forged: number; stale: number; oversized: number; wrong_channel: number; replayed: number; invalid_message: number };
  };
  heapUsed: number;
  /** Per-user chat rate state held and commodities with local members (finding R1). */
  commodity: { rateLimitedUsers: number; commodities: number };
  /** Present with `countPresenceCalls` or `failingPresenceUser`: presence store calls so far. */
  presenceCalls?: { join: number; leave: number };
  /** Present with `revocationFaults`: revocation checks so far, most checks of one token in flight at once. */
  revocationStore?: { calls: number; maxInFlightPerToken: number };
}

/** `stats().lifecycle.revalidation`: periodic revalidation figures (finding R7). */
export interface RevalidationStats {
  runs: number;
  skipped: number;
  checks: number;
  failures: number;
}

export interface ServerHandle {
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the server wrote to stdout and stderr. */
  readonly output: () => string;
  http(path?: string): string;
  ws(path: string): string;
  request<T = unknown>(cmd: Record<string, unknown> & { cmd: string }): Promise<T>;
  stats(): Promise<Stats>;
  /** Full GC in the child (needs `exposeGc: true`), then its `process.memoryUsage()`. */
  gc(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

/** Which of the run's Redis servers a node uses (test/support/global-setup.ts starts both). */
export type TestRedis = 'standalone' | 'cluster';

/**
 * Options of a node on the run's standalone Redis or its three-master cluster: `redisUrl` or
 * `redisClusterNodes` set accordingly, everything else from `options` (whose own Redis
 * address, if any, is replaced).
 */
export function onTestRedis(redis: TestRedis, options: HarnessConfig['options'] = {}): HarnessConfig['options'] {
  const { redisUrl: _url, redisClusterNodes: _nodes, ...rest } = options;
  return redis === 'cluster' ? { ...rest, redisClusterNodes: requiredEnv('TEST_REDIS_CLUSTER_NODES') } : { ...rest, redisUrl: requiredEnv('TEST_REDIS_URL') };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (jest.config.js globalSetup starts Redis)`);
  return value;
}

/**
 * Starts the harness server with `options` (jwt.secret defaults to SECRET). `redis`: put the
 * node on the run's standalone Redis or cluster (see onTestRedis); unset, `options` decide.
 */
export async function startServer(config: Partial<HarnessConfig> & { options?: HarnessConfig['options']; redis?: TestRedis } = {}): Promise<ServerHandle> {
  const { redis, ...rest } = config;
  config = rest;
  // Scrapes see every change at once unless a test asks for the /metrics cache.
  const options = { jwt: { secret: SECRET }, metricsCacheMs: 0, ...(redis ? onTestRedis(redis, config.options) : config.options) };
  const child = fork(SERVER_PROCESS, [], {
    env: { ...process.env, REALTIME_HARNESS: JSON.stringify({ ...config, options }) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // `exposeGc`: the child can be asked for a full collection (`gc` request, leak tests).
    ...(config.exposeGc ? { execArgv: [...process.execArgv, '--expose-gc'] } : {}),
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    // A server that missed its start is killed, so it neither outlives the test nor keeps jest from exiting.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within 30 s:\n${out}`));
    }, 30_000);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready' && m.port) {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { seq?: number; result?: unknown; error?: string }) => {
    if (m.seq === undefined) return;
    const p = pending.get(m.seq);
    pending.delete(m.seq);
    if (m.error !== undefined) p?.reject(new Error(m.error));
    else p?.resolve(m.result);
  });
  const request = <T>(cmd: Record<string, unknown> & { cmd: string }): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      seq += 1;
      pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...cmd, seq });
    });
  return {
    port,
    child,
    output: () => out,
    http: (path = '') => `http://127.0.0.1:${port}${path}`,
    ws: (path: string) => `ws://127.0.0.1:${port}${path}`,
    request,
    stats: () => request<Stats>({ cmd: 'stats' }),
    gc: () => request<NodeJS.MemoryUsage>({ cmd: 'gc' }),
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface TokenOptions extends SignOptions {
  secret?: string | Buffer;
}

/** A valid HS256 token for `sub` unless options say otherwise. */
export function token(claims: Record<string, unknown> = {}, options: TokenOptions = {}): string {
  const { secret = SECRET, ...sign } = options;
  const payload = { sub: 'u1', ...claims };
  const hasExp = 'exp' in payload;
  return jwt.sign(payload, secret, { algorithm: 'HS256', ...(hasExp || sign.expiresIn !== undefined ? {} : { expiresIn: 3600 }), ...sign });
}

export const randomId = (): string => randomBytes(6).toString('hex');

export interface Frame {
  event: string;
  data?: Record<string, unknown>;
  id?: string | number;
  [key: string]: unknown;
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A `ws` client that records every frame and lets a test wait for the next matching one.
 * `connected` is consumed by `open()`.
 */
export class Client {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<Closed>;
  connected?: Frame;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      this.wake();
    }));
    socket.on('error', () => undefined);
  }

  /** Connects and waits for `connected`; rejects with the HTTP status on a refused upgrade. */
  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const socket = new WebSocket(url, options);
    const client = new Client(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(new HandshakeError(res.statusCode ?? 0, body, res.headers)));
      });
      socket.once('error', reject);
    });
    client.connected = await client.next('connected');
    return client;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a frame and waits for the reply or error carrying its id. */
  async call(event: string, data?: Record<string, unknown>, id: string | number = randomId()): Promise<Frame> {
    this.send({ event, ...(data !== undefined ? { data } : {}), id });
    return this.next((f) => f.id === id);
  }

  /** Next unread frame matching `match` (an event name or predicate). */
  async next(match?: string | ((f: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.event === match : match ?? (() => true);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const frame = this.frames[this.cursor++]!;
        if (test(frame)) return frame;
      }
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`closed while waiting; frames: ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves to the close code and reason, failing after `timeoutMs`. */
  async waitClose(timeoutMs = 5000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<Closed>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not closed; frames: ${JSON.stringify(this.frames)}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames received so far that match, without consuming them. */
  all(event: string): Frame[] {
    return this.frames.filter((f) => f.event === event);
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`handshake refused with ${status}: ${body}`);
  }
}

/** Attempts an upgrade and returns the HTTP status and body of the refusal (or 101). */
export async function handshakeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  try {
    const client = await Client.open(url, options);
    client.close();
    return { status: 101, body: '', headers: {} };
  } catch (err) {
    if (err instanceof HandshakeError) return { status: err.status, body: err.body, headers: err.headers };
    throw err;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns true or `timeoutMs` passes. */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 5000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(stepMs);
  }
}

export interface MainRun {
  code: number | null;
  stdout: string;
  stderr: string;
  listened: boolean;
  /** The answer to `GET probePath` once it listened, when asked for. */
  probe?: { status: number; body: string };
}

/**
 * Runs the production entry with exactly `env` (plus PATH/HOME); kills it once it listens
 * (after `GET probePath` on it, when given: needs the `listening` line, so LOG_LEVEL ≤ info).
 */
export function runMain(env: Record<string, string>, timeoutMs = 10_000, probePath?: string): Promise<MainRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_ENTRY], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let listened = false;
    let probe: MainRun['probe'];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!listened && /listening/.test(stdout)) {
        listened = true;
        const url = /"url":"([^"]+)"/.exec(stdout)?.[1]?.replace('[::1]', '127.0.0.1');
        if (probePath === undefined || url === undefined) {
          child.kill('SIGKILL');
          return;
        }
        fetch(url + probePath)
          .then(async (res) => (probe = { status: res.status, body: await res.text() }))
          .catch(() => undefined)
          .finally(() => child.kill('SIGKILL'));
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main did not exit or listen in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, listened, ...(probe ? { probe } : {}) });
    });
    child.once('error', reject);
  });
}


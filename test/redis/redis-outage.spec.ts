/**
 * Redis unreachable or restarting (issue 5, resilience): publishes reject and are counted,
 * lease acquisition throws, nothing crashes, and after a restart the broker resubscribes
 * and leases are renewed back. The restart test runs its own redis-server (never the
 * shared 6379 one) and always stops it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import type { BrokerMessage } from '../../src/publishing/broker.js';
import { RedisBroker } from '../../src/redis/redis-broker.js';
import { RedisChatHistoryStore } from '../../src/redis/redis-chat-history.store.js';
import { RedisRevocationStore } from '../../src/redis/redis-revocation.store.js';
import { RedisRoomPresenceStore } from '../../src/redis/redis-room-presence.store.js';
import { RedisUserConnectionCounter } from '../../src/redis/redis-user-connection-counter.js';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import { connect, eventually, SIGNING_KEY, sleep, TestConnection, uniquePrefix } from './redis-helpers.js';

const CLOSED_PORT_URL = 'redis://127.0.0.1:6390';
const OWN_PORT = Number(process.env['TEST_REDIS_OUTAGE_PORT'] ?? 6391);

const crashes: unknown[] = [];
const onCrash = (error: unknown): void => void crashes.push(error);

beforeAll(() => {
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
});

afterAll(() => {
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
});

const update = (n: number): BrokerMessage => ({ type: 'namespace', namespace: 'main', event: 'system.announcement', data: { n } });

describe('Redis unreachable (closed port)', () => {
  let conn: TestConnection;

  beforeAll(() => {
    conn = new TestConnection(uniquePrefix(), CLOSED_PORT_URL);
  });

  afterAll(async () => {
    await conn.close();
  });

  test('not ready, and waiting for it times out', async () => {
    expect(conn.isReady()).toBe(false);
    await expect(conn.waitUntilReady(200)).rejects.toThrow(/not ready/);
  });

  test('publish delivers locally, then rejects and counts the failure', async () => {
    const broker = new RedisBroker({ connection: conn, signer: new EnvelopeSigner(SIGNING_KEY), nodeId: 'n1' });
    const got: BrokerMessage[] = [];
    broker.subscribe((m) => got.push(m));
    await expect(broker.publish(update(1))).rejects.toThrow();
    expect(got).toEqual([update(1)]);
    expect(broker.stats().publishFailures).toBe(1);
    await broker.close();
  });

  test('acquire throws (the handshake answers 503); the stores reject', async () => {
    const counter = new RedisUserConnectionCounter({ connection: conn, nodeId: 'n1', leaseTtlMs: 300 });
    const presence = new RedisRoomPresenceStore({ connection: conn, nodeId: 'n1', livenessTtlMs: 300 });
    try {
      await expect(counter.acquire('u', 3)).rejects.toThrow();
      expect(counter.localUsers()).toBe(0);
      await expect(new RedisChatHistoryStore({ connection: conn, bounds: { size: 5, ttlMs: 1000, maxCommodities: 5, maxBytes: 1 << 20 }, signingKey: SIGNING_KEY }).recent(1, 5)).rejects.toThrow();
      await expect(new RedisRevocationStore({ connection: conn }).isRevoked({ userId: 'u' })).rejects.toThrow();
      await expect(presence.join('r', 'c', { userId: 'u', username: 'U' }, 5)).rejects.toThrow();
      await sleep(400); // a few renew/heartbeat ticks against the dead server
    } finally {
      counter.close();
      presence.close();
    }
  });

  test('connection errors went to the reporter, nothing crashed', () => {
    expect(conn.errors.length).toBeGreaterThan(0);
    expect(crashes).toEqual([]);
  });
});

describe('Redis restart (own redis-server)', () => {
  let server: ChildProcess | undefined;
  let connA: TestConnection;
  let connB: TestConnection;
  let a: RedisBroker;
  let b: RedisBroker;
  let counter: RedisUserConnectionCounter;
  const gotA: BrokerMessage[] = [];
  const gotB: BrokerMessage[] = [];
  const url = `redis://127.0.0.1:${OWN_PORT}`;

  async function startServer(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(OWN_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], {
      stdio: 'ignore',
    });
    server = child;
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      expect(execFileSync('redis-cli', ['-p', String(OWN_PORT), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()).toBe('PONG');
    }, 5000, 50);
  }

  async function stopServer(): Promise<void> {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      execFileSync('redis-cli', ['-p', String(OWN_PORT), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      child.kill('SIGTERM'); // our own child, by its pid
    }
    await exited;
  }

  beforeAll(async () => {
    await startServer();
    const prefix = uniquePrefix();
    [connA, connB] = await Promise.all([connect(prefix, url), connect(prefix, url)]);
    const signer = new EnvelopeSigner(SIGNING_KEY);
    a = new RedisBroker({ connection: connA, signer, nodeId: 'node-a' });
    b = new RedisBroker({ connection: connB, signer, nodeId: 'node-b' });
    a.subscribe((m) => gotA.push(m));
    b.subscribe((m) => gotB.push(m));
    await Promise.all([a.whenSubscribed(), b.whenSubscribed()]);
    counter = new RedisUserConnectionCounter({ connection: connA, nodeId: 'node-a', leaseTtlMs: 3000 });
  });

  afterAll(async () => {
    counter?.close();
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([connA?.close(), connB?.close()]);
    await stopServer();
  });

  test('recovers after a restart: not ready during the outage, publishes fail loudly, then resubscribed and renewed', async () => {
    await a.publish(update(1));
    await eventually(() => expect(gotB).toEqual([update(1)]));
    expect(await counter.acquire('u1', 2)).toBeDefined();

    await stopServer();
    await eventually(() => expect(connA.isReady() || connB.isReady()).toBe(false));
    await expect(a.publish(update(2))).rejects.toThrow();
    expect(gotA).toContainEqual(update(2)); // this node's own subscribers still got it
    expect(a.stats().publishFailures).toBe(1);
    await expect(counter.acquire('u1', 2)).rejects.toThrow();

    await startServer(); // empty: no leases, no subscriptions
    await eventually(() => expect(connA.isReady() && connB.isReady()).toBe(true), 10_000);
    // The lease held before the outage is renewed back on reconnect.
    await eventually(async () => expect(await connA.command.zcard(counter.key('u1'))).toBe(1), 5000);
    // B's subscriber resubscribed by itself: publishes from A reach it again, exactly once.
    let n = 100;
    await eventually(async () => {
      n += 1;
      await a.publish(update(n));
      await sleep(50);
      expect(gotB.some((m) => m.type === 'namespace' && m.data['n'] === n)).toBe(true);
    }, 5000, 0);
    gotB.length = 0;
    await a.publish(update(999));
    await eventually(() => expect(gotB).toEqual([update(999)]));
    await sleep(100);
    expect(gotB).toEqual([update(999)]);
    expect(await counter.acquire('u1', 2)).toBeDefined();
    expect(await counter.acquire('u1', 2)).toBeUndefined();
    expect(crashes).toEqual([]);
  }, 30_000);
});

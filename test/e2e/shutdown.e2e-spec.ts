/**
 * docs/protocol.md §9 shutdown: on SIGTERM readiness and new upgrades turn 503, every connection
 * is closed with 1001, and the process exits within SHUTDOWN_TIMEOUT_MS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import request from 'supertest';
import { Client, handshakeStatus, MAIN_ENTRY, type ServerHandle, startServer, token } from '../support/harness.js';
import { BODY, bearer } from '../support/e2e-helpers.js';

const SHUTDOWN_TIMEOUT_MS = 4000;
const CLIENTS = 50;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

const exitOf = (child: ChildProcess): Promise<Exit> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode, at: Date.now() });
    else child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });

/** `exit`, or `{code: -1}` when the process is still running after `ms`. */
async function within(exit: Promise<Exit>, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([exit, new Promise<Exit>((resolve) => (timer = setTimeout(() => resolve({ code: -1, signal: null, at: Date.now() }), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens `n` clients, half anonymous, half authenticated, over /ws/main and /ws/tracking. */
async function openClients(url: (path: string) => string, n: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      Client.open(url(i % 2 === 0 ? '/ws/main' : '/ws/tracking'), i % 2 === 0 ? {} : bearer(token({ sub: `drain-${i}` }))),
    ),
  );
}

describe('harness server', () => {
  let server: ServerHandle;
  let exited: Promise<Exit> = Promise.resolve({ code: -2, signal: null, at: 0 });
  let signalledAt = 0;

  beforeAll(async () => {
    server = await startServer({ options: { shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS, maxAnonConnectionsPerIp: 100 } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('SIGTERM: new upgrades and readiness get 503 during the drain, and every client gets 1001', async () => {
    const clients = await openClients(server.ws, CLIENTS);
    // One client that does not read: the server has to wait for its close handshake, so the drain lasts.
    const stalled = await Client.open(server.ws('/ws/tracking'));
    const raw = (stalled.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    expect((await server.stats()).connections.connections).toBe(CLIENTS + 1);
    expect((await request(server.http()).get('/health/ready')).status).toBe(200);

    exited = exitOf(server.child);
    signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const closes = await Promise.all(clients.map((c) => c.waitClose(SHUTDOWN_TIMEOUT_MS)));

    // Still draining (the stalled client has not answered): refuse new upgrades and report not ready.
    const upgrade = await handshakeStatus(server.ws('/ws/main'));
    expect(upgrade.status).toBe(503);
    expect(upgrade.body).toBe(BODY[503]);
    const authedUpgrade = await handshakeStatus(server.ws('/ws/tracking'), bearer(token({ sub: 'late-comer' })));
    expect(authedUpgrade.status).toBe(503);
    const ready = await request(server.http()).get('/health/ready');
    expect(ready.status).toBe(503);

    raw.resume();
    const stalledClose = await stalled.waitClose(SHUTDOWN_TIMEOUT_MS);
    expect(closes.map((c) => c.code)).toEqual(Array.from({ length: CLIENTS }, () => 1001));
    expect(stalledClose.code).toBe(1001);
  }, 20_000);

  test('SIGTERM: after the drain the process exits with code 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    expect(signalledAt).toBeGreaterThan(0);
    const exit = await within(exited, SHUTDOWN_TIMEOUT_MS + 2000);
    expect(exit.code === -1 ? 'still running' : 'exited').toBe('exited');
    expect(exit.at - signalledAt).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  });
});

describe('production entry (dist/main.js)', () => {
  let child: ChildProcess | undefined;
  let exited: Promise<Exit> = Promise.resolve({ code: -2, signal: null, at: 0 });
  let signalledAt = 0;

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  test('SIGTERM to `npm start`: every client gets 1001', async () => {
    child = spawn(process.execPath, [MAIN_ENTRY], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        JWT_SECRET: 'test-secret-0123456789-abcdefghijklmnop',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not listen:\n${out}`)), 10_000);
      child!.stdout!.on('data', () => {
        const match = /"url":"http:\/\/[^"]*:(\d+)"/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child!.once('exit', () => reject(new Error(`exited before listening:\n${out}`)));
    });
    const clients = await openClients((path) => `ws://127.0.0.1:${port}${path}`, 20);
    exited = exitOf(child);
    signalledAt = Date.now();
    child.kill('SIGTERM');
    const closes = await Promise.all(clients.map((c) => c.waitClose(SHUTDOWN_TIMEOUT_MS)));
    expect(closes.map((c) => c.code)).toEqual(Array.from({ length: 20 }, () => 1001));
  }, 20_000);

  test('SIGTERM to `npm start`: the process exits with code 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    expect(signalledAt).toBeGreaterThan(0);
    const exit = await within(exited, SHUTDOWN_TIMEOUT_MS + 2000);
    expect(exit.code === -1 ? 'still running' : 'exited').toBe('exited');
    expect(exit.at - signalledAt).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  });
});

describe('bounded drain', () => {
  const SHORT_TIMEOUT_MS = 1500;
  let server: ServerHandle;

  beforeAll(async () => {
    server = await startServer({ options: { shutdownTimeoutMs: SHORT_TIMEOUT_MS } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('a client that never completes the close handshake does not hold the process beyond SHUTDOWN_TIMEOUT_MS', async () => {
    const polite = await Client.open(server.ws('/ws/main'));
    const stalled = await Client.open(server.ws('/ws/tracking'), bearer(token({ sub: 'never-reads' })));
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const exited = exitOf(server.child);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    expect((await polite.waitClose(SHORT_TIMEOUT_MS)).code).toBe(1001);
    const exit = await within(exited, SHORT_TIMEOUT_MS + 3000);
    expect(exit.code === -1 ? 'still running' : 'exited').toBe('exited');
    expect(exit.at - signalledAt).toBeLessThanOrEqual(SHORT_TIMEOUT_MS);
    stalled.socket.terminate();
  }, 10_000);
});

/**
 * Fault tests (issue 6; docs/protocol.md §3, §6, §9; findings 11, 13, 21): a slow consumer under a
 * flood, dead peers among live ones, SIGTERM with 1,000 open connections and buffered activity,
 * and handlers that fail unexpectedly. liveness / shutdown / namespaces-activity cover the
 * single-connection versions; these are the versions under load.
 */
import request from 'supertest';
import { Client, eventually, type Frame, type ServerHandle, sleep, startServer, token } from '../support/harness.js';
import { bearer, ClientPool, expectAlive, expectError } from '../support/e2e-helpers.js';
import { ALL_PATHS, inBatches, mb } from '../support/safety-helpers.js';

const retained = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.external;

// =================================================================================================
describe('slow consumer (§6)', () => {
  const PUBLISHES = 1000;
  const BLOB = 60 * 1024;
  /** Retained memory (heap + external buffers, after a full GC) may rise at most this much while ~60 MB are published. */
  const FLAT_BOUND = 16 * 1024 * 1024;
  let server: ServerHandle;
  const pool = new ClientPool(() => server);

  beforeAll(async () => {
    server = await startServer({ exposeGc: true }); // WS_MAX_BUFFERED_BYTES at its default, 1 MiB
  });
  afterAll(async () => {
    await pool.drain().catch(() => undefined);
    await server?.stop();
  });

  test(`slow consumer (§6): a consumer that stops reading is closed with 4008 while ${PUBLISHES} × 60 KB are published to its topic; the server's retained memory stays flat; a healthy subscriber gets everything`, async () => {
    const stalled = await pool.open('/ws/tracking');
    const healthy = await pool.open('/ws/tracking');
    for (const c of [stalled, healthy]) expect((await c.call('tracking.subscribe', { trackingId: 'FLOOD' })).event).toBe('tracking.subscribed');
    (stalled.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const baseline = await server.gc();
    const samples: NodeJS.MemoryUsage[] = [];
    const blob = 'x'.repeat(BLOB);
    for (let i = 0; i < PUBLISHES; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => server.request({ cmd: 'trackingUpdate', trackingId: 'FLOOD', data: { seq: i + k, blob } })));
      if ((i + 10) % 200 === 0) samples.push(await server.gc());
    }
    await eventually(() => healthy.all('tracking.update').length === PUBLISHES, 30_000, 20);
    expect(healthy.all('tracking.update').map((f) => f.data?.seq)).toEqual(Array.from({ length: PUBLISHES }, (_, i) => i));

    (stalled.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await stalled.waitClose(10_000)).code).toBe(4008);
    expect(stalled.all('tracking.update').length).toBeLessThan(PUBLISHES / 4);
    await expectAlive(healthy);

    const peak = Math.max(...samples.map(retained));
    console.log(
      `slow consumer: ${mb(PUBLISHES * BLOB)} published; retained heap+external (after GC) baseline ${mb(retained(baseline))}, peak ${mb(peak)} ` +
        `(heapUsed ${mb(baseline.heapUsed)} → max ${mb(Math.max(...samples.map((s) => s.heapUsed)))}); the stalled client got ${stalled.all('tracking.update').length}/${PUBLISHES} before 4008`,
    );
    expect(peak - retained(baseline)).toBeLessThan(FLAT_BOUND);
  }, 90_000);
});

// =================================================================================================
describe('dead peers among live ones (§6, finding 13)', () => {
  const HEARTBEAT_MS = 300;
  const PONG_TIMEOUT_MS = 300;
  const PER_KIND = 10;
  let server: ServerHandle;
  const pool = new ClientPool(() => server);

  beforeAll(async () => {
    server = await startServer({ options: { heartbeatIntervalMs: HEARTBEAT_MS, pongTimeoutMs: PONG_TIMEOUT_MS, maxAnonConnectionsPerIp: 1000 } });
  });
  afterAll(async () => {
    await pool.drain().catch(() => undefined);
    await server?.stop();
  });

  /** Opens a client of `kind` that subscribes or joins; `dead` ones never answer protocol pings. */
  async function member(kind: number, i: number, dead: boolean): Promise<Client> {
    const sub = `${dead ? 'dead' : 'live'}-${kind}-${i}`;
    const options = { autoPong: !dead };
    switch (kind) {
      case 0: {
        const c = await pool.open('/ws/tracking', options);
        expect((await c.call('tracking.subscribe', { trackingId: 'HB' })).event).toBe('tracking.subscribed');
        return c;
      }
      case 1: {
        const c = await pool.open('/ws/notifications', bearer(token({ sub }), options));
        expect((await c.call('notifications.subscribe', {})).event).toBe('notifications.subscribed');
        return c;
      }
      case 2: {
        const c = await pool.open('/ws/collaboration', bearer(token({ sub }), options));
        expect((await c.call('room.join', { roomId: 'HB-ROOM' })).event).toBe('room.joined');
        return c;
      }
      default: {
        const c = await pool.open('/ws/commodity', bearer(token({ sub }), options));
        expect((await c.call('commodity.join', { commodityId: 7 })).event).toBe('commodity.joined');
        return c;
      }
    }
  }

  test(`finding 13: ${PER_KIND * 4} peers that stop answering pings (tracking, notifications, a room, a chat) are all terminated within heartbeat + pong timeout (+ 3 s allowance for timer ticks and a loaded machine); their traces go; ${PER_KIND * 4} live peers on the same topics stay and keep receiving`, async () => {
    const before = (await server.stats()).lifecycle.heartbeatTerminations;
    const live = await Promise.all(Array.from({ length: PER_KIND * 4 }, (_, n) => member(n % 4, n, false)));
    const opened = Date.now();
    const dead = await Promise.all(Array.from({ length: PER_KIND * 4 }, (_, n) => member(n % 4, n, true)));
    expect((await server.stats()).connections.connections).toBe(PER_KIND * 8);

    const closes = await Promise.all(dead.map((c) => c.waitClose(HEARTBEAT_MS + PONG_TIMEOUT_MS + 3000)));
    const tookMs = Date.now() - opened;
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1006]));
    // What docs/security.md claims for finding 13, asserted as such.
    expect(tookMs).toBeLessThanOrEqual(HEARTBEAT_MS + PONG_TIMEOUT_MS + 3000);
    await eventually(async () => (await server.stats()).lifecycle.heartbeatTerminations === before + PER_KIND * 4, 3000);

    // Live peers survive several more heartbeat rounds and still get their pushes.
    await sleep(HEARTBEAT_MS * 4);
    expect(live.every((c) => c.socket.readyState === c.socket.OPEN)).toBe(true);
    await server.request({ cmd: 'trackingUpdate', trackingId: 'HB', data: { after: true } });
    await server.request({ cmd: 'publish', method: 'notify', args: [live.filter((_, n) => n % 4 === 1).map((_, k) => `live-1-${k * 4 + 1}`), { after: true }] });
    await eventually(() => live.filter((_, n) => n % 4 === 0).every((c) => c.all('tracking.update').length === 1), 3000);
    await eventually(() => live.filter((_, n) => n % 4 === 1).every((c) => c.all('notification').length === 1), 3000);
    for (const c of live) await expectAlive(c);
    // Every dead room member's presence leave reached the live members.
    const roomMember = live[2]!;
    await eventually(() => roomMember.all('room.presence').filter((f) => f.data?.action === 'leave').length === PER_KIND, 3000);

    const stats = await server.stats();
    expect(stats.connections.connections).toBe(PER_KIND * 4);
    expect(stats.subscriptions).toEqual({ topics: 1 + PER_KIND + 1 + 1, subscriptions: PER_KIND * 4, connections: PER_KIND * 4 });
    expect(stats.rooms).toBe(1);
    console.log(`dead peers: ${dead.length} terminated (1006) within ${tookMs} ms of opening (heartbeat ${HEARTBEAT_MS} ms + pong timeout ${PONG_TIMEOUT_MS} ms); ${live.length} live peers kept`);
  }, 30_000);
});

// =================================================================================================
describe('SIGTERM with 1,000 open connections (§9, finding 11)', () => {
  const CONNECTIONS = 1000;
  const SHUTDOWN_TIMEOUT_MS = 5000;
  const REPORTS = 60;
  let server: ServerHandle;

  beforeAll(async () => {
    server = await startServer({
      activitySink: 'recording',
      options: { shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS, activityFlushIntervalMs: 600_000, handshakeRatePerIp: 1_000_000, maxAnonConnectionsPerIp: 10_000 },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test(`finding 11: SIGTERM: all ${CONNECTIONS} connections on every path get 1001 within SHUTDOWN_TIMEOUT_MS, the buffered activity is flushed to the sink, the process exits 0`, async () => {
    // Every path; half authenticated by header, the rest anonymous (optional paths) or pending.
    const clients = await inBatches(CONNECTIONS, 100, (i) => {
      const path = ALL_PATHS[i % ALL_PATHS.length]!;
      const authed = Math.floor(i / ALL_PATHS.length) % 2 === 0;
      return Client.open(server.ws(path), authed ? bearer(token({ sub: `drain-u${i % 100}` })) : {});
    });
    const reporters = clients.filter((c) => c.connected?.data?.namespace === 'activity' && c.connected?.data?.authenticated === true).slice(0, 30);
    expect(reporters.length).toBe(30);
    for (let n = 0; n < REPORTS; n += 1) reporters[n % reporters.length]!.send({ event: 'activity.report', data: { type: 'drain', target: `drain-${n}` } });
    for (const r of reporters) await expectAlive(r);
    const loaded = await server.stats();
    expect(loaded.connections.connections).toBe(CONNECTIONS);
    expect(loaded.activity).toMatchObject({ buffered: REPORTS, flushed: 0 });
    expect(server.output()).not.toContain('activityBatch');

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const closes = await Promise.all(clients.map(async (c) => ({ ...(await c.waitClose(SHUTDOWN_TIMEOUT_MS + 2000)), at: Date.now() })));
    const lastClose = Math.max(...closes.map((c) => c.at)) - signalledAt;
    let timer: NodeJS.Timeout | undefined;
    const exitCode = await Promise.race([server.exited, new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), SHUTDOWN_TIMEOUT_MS + 2000)))]);
    clearTimeout(timer);
    const exitedAfter = Date.now() - signalledAt;

    const codes = new Map<number, number>();
    for (const c of closes) codes.set(c.code, (codes.get(c.code) ?? 0) + 1);
    const batches = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{"activityBatch"'))
      .map((l) => (JSON.parse(l) as { activityBatch: Array<{ type: string; target: string; userId: string }> }).activityBatch);
    const flushed = batches.flat().filter((item) => item.type === 'drain');
    console.log(
      `SIGTERM: ${CONNECTIONS} connections drained, close codes ${JSON.stringify(Object.fromEntries(codes))}, last close ${lastClose} ms and exit (${String(exitCode)}) ${exitedAfter} ms after the signal ` +
        `(SHUTDOWN_TIMEOUT_MS ${SHUTDOWN_TIMEOUT_MS}); activity flushed on shutdown: ${flushed.length}/${REPORTS} items in ${batches.length} batch(es)`,
    );
    expect(Object.fromEntries(codes)).toEqual({ 1001: CONNECTIONS });
    expect(lastClose).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect(exitCode).toBe(0);
    expect(exitedAfter).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect(flushed.map((i) => i.target).sort()).toEqual(Array.from({ length: REPORTS }, (_, n) => `drain-${n}`).sort());
    expect(flushed.every((i) => /^drain-u\d+$/.test(i.userId))).toBe(true);
  }, 60_000);
});

// =================================================================================================
describe('handlers that fail unexpectedly (finding 21)', () => {
  const BOOM = '999';
  let server: ServerHandle;
  const pool = new ClientPool(() => server);

  beforeAll(async () => {
    // Message rates raised: the test sends more frames per second than a client normally would.
    server = await startServer({ throwingTopic: BOOM, failingRevocationUser: 'store-down', options: { rateBurst: 10_000, ratePerSec: 10_000, anonRateBurst: 10_000, anonRatePerSec: 10_000 } });
  });
  afterEach(async () => {
    await pool.drain();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const expectInternal = (frame: Frame, id: string, request: string): void => {
    expectError(frame, 'INTERNAL_ERROR', { id, request });
    expect(frame.message).toBe('Internal error');
  };

  test('finding 21: a handler that throws (injected authorization fault) answers INTERNAL_ERROR with a generic message on every namespace that authorises; the connection keeps working; the failure is logged, not counted as an invalid frame', async () => {
    const before = server.output().length;
    const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string, Record<string, unknown>, Record<string, unknown>]> = [
      ['/ws/tracking', {}, 'tracking.subscribe', { trackingId: BOOM }, { trackingId: 'OK-1' }],
      ['/ws/projects', { sub: 'boss', roles: ['admin'] }, 'project.subscribe', { projectId: BOOM }, { projectId: 'OK-1' }],
      ['/ws/collaboration', { sub: 'collab' }, 'room.join', { roomId: BOOM }, { roomId: 'OK-1' }],
      ['/ws/commodity', { sub: 'chatter' }, 'commodity.join', { commodityId: Number(BOOM) }, { commodityId: 1 }],
      ['/ws/notifications', { sub: BOOM }, 'notifications.subscribe', {}, {}],
    ];
    for (const [path, claims, event, failing, fine] of cases) {
      const client = await pool.open(path, Object.keys(claims).length > 0 ? bearer(token(claims)) : {});
      // More failures than WS_MAX_INVALID_FRAMES (20): INTERNAL_ERROR is not the client's fault, so no 4400.
      for (let n = 0; n < 25; n += 1) expectInternal(await client.call(event, failing, `boom-${n}`), `boom-${n}`, event);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      await expectAlive(client);
      if (path !== '/ws/notifications') expect((await client.call(event, fine, 'fine')).event).not.toBe('error');
    }
    // Nothing half-done: only the successful subscriptions exist.
    expect((await server.stats()).subscriptions.subscriptions).toBe(4);
    // The tracking connection still gets its pushes.
    const watcher = await pool.open('/ws/tracking');
    expectInternal(await watcher.call('tracking.subscribe', { trackingId: BOOM }, 'w1'), 'w1', 'tracking.subscribe');
    expect((await watcher.call('tracking.subscribe', { trackingId: 'OK-2' })).event).toBe('tracking.subscribed');
    await server.request({ cmd: 'trackingUpdate', trackingId: 'OK-2', data: { n: 1 } });
    expect((await watcher.next('tracking.update')).data).toEqual({ n: 1, trackingId: 'OK-2' });
    expect((await request(server.http()).get('/health/live')).status).toBe(200);
    // Logged for operators with the cause, once per failure.
    const logged = server.output().slice(before).split('\n').filter((l) => l.includes('injected fault'));
    expect(logged.length).toBe(cases.length * 25 + 1);
    expect(logged.every((l) => l.includes('"level":"error"'))).toBe(true);
  }, 30_000);

  // dependency-faults.e2e-spec.ts covers the store failing at the handshake (503) and in-band on /ws/main.
  test('finding 21: a revocation-store failure during in-band auth on an auth-required path answers INTERNAL_ERROR and leaves the connection pending (no 4401), so it can authenticate once the store answers', async () => {
    const before = server.output().length;
    const pending = await pool.open('/ws/notifications');
    expectInternal(await pending.call('auth', { token: token({ sub: 'store-down' }) }, 'p1'), 'p1', 'auth');
    await sleep(200);
    expect(pending.socket.readyState).toBe(pending.socket.OPEN);
    expectError(await pending.call('notifications.subscribe', {}, 'p2'), 'UNAUTHORIZED', { id: 'p2' });
    expect((await pending.call('auth', { token: token({ sub: 'someone-fine' }) })).event).toBe('auth.ok');
    expect(server.output().slice(before)).toContain('revocation store unavailable');
  });
});

// =================================================================================================
describe('R9: a presence-store failure during room.join (injected: the store records the join, then throws)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);

  beforeAll(async () => {
    server = await startServer({ failingPresenceUser: 'unlucky' });
  });
  afterEach(async () => {
    await pool.drain();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('R9: room.join answers INTERNAL_ERROR and leaves no hidden member: not subscribed (gets no room.message), not in presence, not counted; the connection keeps working', async () => {
    const alice = await pool.open('/ws/collaboration', bearer(token({ sub: 'alice' })));
    const unlucky = await pool.open('/ws/collaboration', bearer(token({ sub: 'unlucky' })));
    expect((await alice.call('room.join', { roomId: 'r9' })).event).toBe('room.joined');
    const failed = await unlucky.call('room.join', { roomId: 'r9' }, 'j9');
    expectError(failed, 'INTERNAL_ERROR', { id: 'j9', request: 'room.join' });
    expect(failed.message).toBe('Internal error');
    // Not subscribed: a member's broadcast does not reach it, and it may not broadcast.
    alice.send({ event: 'room.broadcast', data: { roomId: 'r9', data: { n: 1 } } });
    expectError(await unlucky.call('room.broadcast', { roomId: 'r9', data: { n: 2 } }, 'b9'), 'UNAUTHORIZED', { id: 'b9' });
    await sleep(150);
    expect(unlucky.all('room.message')).toEqual([]);
    // Not in presence (the compensating leave removed what the store recorded) and never announced.
    const bob = await pool.open('/ws/collaboration', bearer(token({ sub: 'bob' })));
    await eventually(async () => {
      const joined = await bob.call('room.join', { roomId: 'r9' });
      return JSON.stringify(joined.data?.members) === JSON.stringify([{ userId: 'alice', username: 'alice' }, { userId: 'bob', username: 'bob' }]);
    });
    // Bob's answer and alice's presence push travel on two sockets: wait for alice's, then
    // require it to be the only presence she ever got.
    const presenceOf = (f: Frame): string => (f.data?.user as { userId: string }).userId;
    await alice.next((f) => f.event === 'room.presence' && presenceOf(f) === 'bob');
    expect(alice.all('room.presence').map(presenceOf)).toEqual(['bob']);
    // Not counted: the store holds alice and bob only, and local subscriptions are theirs.
    const stats = await server.stats();
    expect(stats.subscriptions).toMatchObject({ topics: 1, subscriptions: 2 });
    expect(stats.presenceCalls).toMatchObject({ join: 3 });
    await expectAlive(unlucky);
    // Alice's and bob's leaving empties the room entirely (no hidden member keeps it).
    alice.close();
    bob.close();
    await eventually(async () => (await server.stats()).rooms === 0);
    expect(server.output()).toContain('room join failed in the presence store');
  });
});

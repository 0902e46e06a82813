/**
 * /ws/activity end to end (docs/protocol.md §5, §9 shutdown; issue 3; finding 11): reports without
 * reply, the admin live feed, size- and time-triggered flushes, flush on shutdown, and a
 * bounded buffer with counted losses when the sink throws.
 */
import { Client, eventually, type ServerHandle, sleep, startServer, token } from '../support/harness.js';
import { ClientPool, expectError, expectIsoTimestamp, framesAfter, reply, seen, sendAndSettle, within } from '../support/ns-helpers.js';

const FAST = { rateBurst: 2000, ratePerSec: 2000 };

interface ActivityItem {
  type: string;
  target?: string;
  metadata?: Record<string, unknown>;
  userId: string;
  timestamp: string;
}

/** Batches the recording sink printed to stdout (`{"activityBatch":[...]}` lines). */
function recordedBatches(server: ServerHandle): ActivityItem[][] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{"activityBatch":'))
    .map((line) => (JSON.parse(line) as { activityBatch: ActivityItem[] }).activityBatch);
}

const report = (c: Client, data: Record<string, unknown>) => c.send({ event: 'activity.report', data });
const batches = (c: Client) => c.all('activity.batch').map((f) => f.data?.items as ActivityItem[]);

describe('default sink: live feed for admins (activityBufferMax 5)', () => {
  const MAX = 5;
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ options: { ...FAST, activityBufferMax: MAX, activityFlushIntervalMs: 600_000 } });
  });
  afterEach(async () => {
    await pool.closeAll();
    await server.request({ cmd: 'flushActivity' });
  });
  afterAll(async () => {
    await server.stop();
  });

  test('activity.report gets no reply on success; the item is buffered with the reporter identity and a timestamp', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    await sendAndSettle(u, 'activity.report', { type: 'click', target: 'btn-1', metadata: { page: 'home', n: 2 } }, 'rep-1');
    expect(u.frames.filter((f) => f.id === 'rep-1')).toEqual([]);
    expect((await server.stats()).activity.buffered).toBe(1);

    await server.request({ cmd: 'flushActivity' });
    const batch = await seen(admin, 'activity.batch');
    expect(Object.keys(batch.data!)).toEqual(['items']);
    const items = batch.data?.items as ActivityItem[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'click', target: 'btn-1', metadata: { page: 'home', n: 2 }, userId: 'u1' });
    expectIsoTimestamp(items[0]!.timestamp);
    expect((await server.stats()).activity.buffered).toBe(0);
  });

  test('a report with only type is accepted (target and metadata optional)', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    await sendAndSettle(u, 'activity.report', { type: 'page.view' });
    await server.request({ cmd: 'flushActivity' });
    const items = (await seen(admin, 'activity.batch')).data?.items as ActivityItem[];
    expect(items).toHaveLength(1);
    expect(items[0]!.type).toBe('page.view');
    expect(items[0]!.userId).toBe('u1');
  });

  test('activity.subscribe answers activity.subscribed {} for role admin', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    const ok = await reply(admin, 'activity.subscribe', {});
    expect(ok.event).toBe('activity.subscribed');
    expect(ok.data).toEqual({});
  });

  test.each([
    ['no roles', { sub: 'u1' }],
    ['other roles', { sub: 'u1', roles: ['user', 'Admin', 'administrator'] }],
  ])('finding 19: activity.subscribe with %s → UNAUTHORIZED "Unauthorized"; such a user never gets activity.batch', async (_l, claims) => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    const u = await pool.open('/ws/activity', claims);
    const denied = await reply(u, 'activity.subscribe', {});
    expectError(denied, 'UNAUTHORIZED', 'activity.subscribe');
    expect(denied.message).toBe('Unauthorized');
    await sendAndSettle(u, 'activity.report', { type: 'x' });
    await server.request({ cmd: 'flushActivity' });
    await seen(admin, 'activity.batch');
    expect(await framesAfter(u, (f) => f.event === 'activity.batch', 100)).toEqual([]);
  });

  test('a pending connection can neither report nor subscribe: UNAUTHORIZED, nothing buffered', async () => {
    const p = await pool.open('/ws/activity');
    expectError(await reply(p, 'activity.report', { type: 'x' }), 'UNAUTHORIZED', 'activity.report');
    expectError(await reply(p, 'activity.subscribe', {}), 'UNAUTHORIZED', 'activity.subscribe');
    expect((await server.stats()).activity.buffered).toBe(0);
  });

  test(`finding 11: size-triggered flush: the ${MAX}th report flushes exactly ${MAX} items, without any explicit flush`, async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    // One reporter per item: a user's share of a flush is a tenth of the cap (§11), here one item.
    const reporters = await Promise.all(Array.from({ length: MAX }, (_, i) => pool.open('/ws/activity', { sub: `u${i}` })));
    const flushedBefore = (await server.stats()).activity.flushed;
    for (let i = 0; i < MAX - 1; i++) await sendAndSettle(reporters[i]!, 'activity.report', { type: 'step', target: `t${i}` });
    expect(await framesAfter(admin, (f) => f.event === 'activity.batch', 200)).toEqual([]);
    expect((await server.stats()).activity.buffered).toBe(MAX - 1);

    report(reporters[MAX - 1]!, { type: 'step', target: `t${MAX - 1}` });
    const batch = await seen(admin, 'activity.batch');
    const items = batch.data?.items as ActivityItem[];
    expect(items).toHaveLength(MAX);
    expect(items.map((i) => i.target)).toEqual(Array.from({ length: MAX }, (_, i) => `t${i}`));
    const stats = (await server.stats()).activity;
    expect(stats.buffered).toBe(0);
    expect(stats.flushed - flushedBefore).toBe(MAX);

    // The next MAX reports make a second batch of exactly MAX.
    for (let i = 0; i < MAX; i++) await sendAndSettle(reporters[i]!, 'activity.report', { type: 'again', target: `s${i}` });
    await eventually(() => admin.all('activity.batch').length === 2);
    expect(batches(admin).map((b) => b.length)).toEqual([MAX, MAX]);
    expect(batches(admin)[1]!.map((i) => i.target)).toEqual(Array.from({ length: MAX }, (_, i) => `s${i}`));
  });

  test('R2: one user takes at most a tenth of the buffer per flush (here 1 of 5); the rest is dropped and counted, other users still get in', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    const greedy = await pool.open('/ws/activity', { sub: 'greedy' });
    const other = await pool.open('/ws/activity', { sub: 'other' });
    const before = (await server.stats()).activity;
    for (let i = 0; i < 4; i++) report(greedy, { type: 'mine', target: `g${i}` });
    await sendAndSettle(other, 'activity.report', { type: 'yours' });
    await reply(greedy, 'ping', {});
    const after = (await server.stats()).activity;
    expect(after.buffered).toBe(2);
    expect(after.dropped - before.dropped).toBe(3);
    await server.request({ cmd: 'flushActivity' });
    expect(((await seen(admin, 'activity.batch')).data?.items as ActivityItem[]).map((i) => [i.userId, i.type])).toEqual([
      ['greedy', 'mine'],
      ['other', 'yours'],
    ]);
    // The share is per flush: after the flush the same user gets in again.
    await sendAndSettle(greedy, 'activity.report', { type: 'next' });
    expect((await server.stats()).activity.buffered).toBe(1);
  });

  test('every admin subscriber gets each batch once; reporters from several users keep their own userId', async () => {
    const admin1 = await pool.open('/ws/activity', { sub: 'adm1', roles: ['admin'] });
    const admin2 = await pool.open('/ws/activity', { sub: 'adm2', roles: ['ops', 'admin'] });
    await reply(admin1, 'activity.subscribe', {});
    await reply(admin2, 'activity.subscribe', {});
    expect((await reply(admin1, 'activity.subscribe', {})).event).toBe('activity.subscribed'); // idempotent
    const u1 = await pool.open('/ws/activity', { sub: 'u1' });
    const u2 = await pool.open('/ws/activity', { sub: 'u2' });
    await sendAndSettle(u1, 'activity.report', { type: 'a' });
    await sendAndSettle(u2, 'activity.report', { type: 'b' });
    await server.request({ cmd: 'flushActivity' });
    for (const admin of [admin1, admin2]) {
      const items = (await seen(admin, 'activity.batch')).data?.items as ActivityItem[];
      expect(items.map((i) => [i.type, i.userId])).toEqual([
        ['a', 'u1'],
        ['b', 'u2'],
      ]);
    }
    expect(await framesAfter(admin1, (f) => f.event === 'activity.batch', 100)).toHaveLength(1);
  });

  test.each([
    ['a userId field', { type: 'click', userId: 'someone-else' }],
    ['a username field', { type: 'click', username: 'someone-else' }],
    ['an unknown field', { type: 'click', extra: 1 }],
    ['no type', { target: 'x' }],
    ['a bad type', { type: 'has space' }],
    ['a type over 64 chars', { type: 't'.repeat(65) }],
    ['a non-object metadata', { type: 'click', metadata: 'x' }],
    ['R2: metadata over 1024 bytes as JSON', { type: 'click', metadata: { blob: 'm'.repeat(1024 - '{"blob":""}'.length + 1) } }],
    ['a target with a control char', { type: 'click', target: 'a\u0007b' }],
  ])('finding 6: activity.report with %s → VALIDATION_FAILED and nothing buffered', async (_l, data) => {
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    expectError(await reply(u, 'activity.report', data as Record<string, unknown>), 'VALIDATION_FAILED', 'activity.report');
    expect((await server.stats()).activity.buffered).toBe(0);
  });

  test('items carry the reporter userId, never a payload-supplied one', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    const u = await pool.open('/ws/activity', { sub: 'honest' });
    report(u, { type: 'spoof', userId: 'victim' });
    report(u, { type: 'spoof', metadata: { note: 'fine' } });
    await reply(u, 'ping', {});
    await server.request({ cmd: 'flushActivity' });
    const items = (await seen(admin, 'activity.batch')).data?.items as ActivityItem[];
    expect(items).toHaveLength(1);
    expect(items[0]!.userId).toBe('honest');
    expect(JSON.stringify(items)).not.toContain('victim');
  });

  test('finding 10: an activity.report frame over 8 KiB → PAYLOAD_TOO_LARGE, nothing buffered, connection open', async () => {
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    expectError(await reply(u, 'activity.report', { type: 'big', metadata: { blob: 'b'.repeat(8 * 1024) } }), 'PAYLOAD_TOO_LARGE', 'activity.report');
    expect((await server.stats()).activity.buffered).toBe(0);
    expect((await reply(u, 'ping', {})).event).toBe('pong');
  });

  test('finding 6: activity.subscribe with data fields → VALIDATION_FAILED', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    expectError(await reply(admin, 'activity.subscribe', { userId: 'adm' }), 'VALIDATION_FAILED', 'activity.subscribe');
  });

  test('auth.refresh with a token without role admin drops the feed: activity.unsubscribed {reason:"revoked"}, no more batches', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    const witness = await pool.open('/ws/activity', { sub: 'w', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    await reply(witness, 'activity.subscribe', {});
    expect((await reply(admin, 'auth.refresh', { token: token({ sub: 'adm', roles: ['user'] }) })).event).toBe('auth.refreshed');
    expect((await seen(admin, 'activity.unsubscribed')).data).toEqual({ reason: 'revoked' });
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    await sendAndSettle(u, 'activity.report', { type: 'after-revoke' });
    await server.request({ cmd: 'flushActivity' });
    await seen(witness, 'activity.batch');
    expect(await framesAfter(admin, (f) => f.event === 'activity.batch', 100)).toEqual([]);
    expectError(await reply(admin, 'activity.subscribe', {}), 'UNAUTHORIZED', 'activity.subscribe');
  });

  test('finding 7: the admin subscription is removed on disconnect', async () => {
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    admin.socket.terminate();
    await eventually(async () => (await server.stats()).subscriptions.connections === 0);
    expect((await server.stats()).subscriptions).toEqual({ topics: 0, subscriptions: 0, connections: 0 });
  });
});

describe('R2: an activity flood cannot close the admins (default ACTIVITY_BUFFER_MAX 500, WS_MAX_BUFFERED_BYTES 1 MiB)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ options: { ...FAST, activityFlushIntervalMs: 600_000 } });
  });
  afterEach(async () => {
    await pool.closeAll();
    await server.request({ cmd: 'flushActivity' });
  });
  afterAll(async () => {
    await server.stop();
  });

  /** The largest report the DTO accepts: a 256-char target and metadata of exactly 1024 bytes. */
  const maximal = (target: string) => ({ type: 'flood', target: target.padEnd(256, '.'), metadata: { blob: 'm'.repeat(1024 - '{"blob":""}'.length) } });

  /** Admins on the live feed, each recording the raw byte size of every `activity.batch` frame it receives. */
  async function admins(count: number): Promise<Array<{ client: Client; sizes: number[] }>> {
    return Promise.all(Array.from({ length: count }, async (_, i) => {
      const client = await pool.open('/ws/activity', { sub: `admin-${i}`, roles: ['admin'] });
      const sizes: number[] = [];
      client.socket.on('message', (data: Buffer) => {
        if (data.subarray(0, 40).toString().startsWith('{"event":"activity.batch"')) sizes.push(data.length);
      });
      await reply(client, 'activity.subscribe', {});
      return { client, sizes };
    }));
  }
  const untagged = (item: ActivityItem) => item.target!.replace(/\.+$/, '');

  test('R2: 500 maximal reports from one user: the admins stay connected and receive every accepted item (the 50 of its share); 450 dropped and counted', async () => {
    const feed = await admins(3);
    const flooder = await pool.open('/ws/activity', { sub: 'flooder' });
    const before = (await server.stats()).activity;
    for (let i = 0; i < 500; i++) report(flooder, maximal(`f${i}`));
    expect((await reply(flooder, 'ping', {})).event).toBe('pong');
    const after = (await server.stats()).activity;
    expect(after.buffered).toBe(50);
    expect(after.dropped - before.dropped).toBe(450);
    await server.request({ cmd: 'flushActivity' });
    for (const { client } of feed) {
      await eventually(() => batches(client).flat().length === 50);
      expect(batches(client).flat().map(untagged)).toEqual(Array.from({ length: 50 }, (_, i) => `f${i}`));
      expect((await reply(client, 'ping', {})).event).toBe('pong');
    }
  });

  test('R2: a flush of 500 maximal items from 10 users goes out as activity.batch frames of at most 256 KiB, in order; every admin gets all 500 and stays connected', async () => {
    const feed = await admins(3);
    const users = await Promise.all(Array.from({ length: 10 }, (_, u) => pool.open('/ws/activity', { sub: `user-${u}` })));
    for (let i = 0; i < 50; i++) for (const [u, c] of users.entries()) report(c, maximal(`${u}:${i}`));
    await Promise.all(users.map((c) => reply(c, 'ping', {})));
    const sequence = (c: Client) => batches(c).flat().map((i) => `${i.userId}|${untagged(i)}`);
    for (const { client, sizes } of feed) {
      await eventually(() => batches(client).flat().length === 500, 10_000);
      expect(batches(client).length).toBeGreaterThanOrEqual(3);
      expect(sizes).toHaveLength(batches(client).length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(262_144);
      expect(sequence(client)).toEqual(sequence(feed[0]!.client));
      for (let u = 0; u < 10; u++) {
        expect(sequence(client).filter((s) => s.startsWith(`user-${u}|`))).toEqual(Array.from({ length: 50 }, (_, i) => `user-${u}|${u}:${i}`));
      }
      expect((await reply(client, 'ping', {})).event).toBe('pong');
    }
  });
});

describe('finding 11: time-triggered flush (recording sink, activityFlushIntervalMs 200)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ activitySink: 'recording', options: { ...FAST, activityBufferMax: 1000, activityFlushIntervalMs: 200 } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('finding 11: items below the size cap are flushed by the timer, without an explicit flush', async () => {
    const u = await pool.open('/ws/activity', { sub: 'timed' });
    const before = recordedBatches(server).length;
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) report(u, { type: 'tick', target: `x${i}` });
    await reply(u, 'ping', {});
    await eventually(() => recordedBatches(server).flat().filter((i) => i.userId === 'timed').length === 3, 3000, 20);
    expect(Date.now() - t0).toBeLessThan(1500);
    const items = recordedBatches(server).slice(before).flat();
    expect(items.map((i) => [i.type, i.target, i.userId])).toEqual([
      ['tick', 'x0', 'timed'],
      ['tick', 'x1', 'timed'],
      ['tick', 'x2', 'timed'],
    ]);
    for (const i of items) expectIsoTimestamp(i.timestamp);
    const stats = (await server.stats()).activity;
    expect(stats.buffered).toBe(0);
    expect(stats.flushed).toBeGreaterThanOrEqual(3);
    expect(stats.dropped).toBe(0);
  });

  test('the timer keeps flushing: a later report is flushed in its own batch', async () => {
    const u = await pool.open('/ws/activity', { sub: 'later' });
    report(u, { type: 'one' });
    await eventually(() => recordedBatches(server).flat().some((i) => i.userId === 'later' && i.type === 'one'), 3000, 20);
    await sleep(250);
    report(u, { type: 'two' });
    await eventually(() => recordedBatches(server).flat().some((i) => i.userId === 'later' && i.type === 'two'), 3000, 20);
    const withLater = recordedBatches(server).filter((b) => b.some((i) => i.userId === 'later'));
    expect(withLater.length).toBe(2);
    // No empty batches are written when nothing is buffered.
    expect(recordedBatches(server).every((b) => b.length > 0)).toBe(true);
  });
});

describe('flush on shutdown (recording sink, SIGTERM)', () => {
  test('SIGTERM flushes the buffered items to the sink before exiting; clients get 1001', async () => {
    const server = await startServer({ activitySink: 'recording', options: { ...FAST, activityBufferMax: 1000, activityFlushIntervalMs: 600_000 } });
    try {
      const pool = new ClientPool(() => server);
      const u = await pool.open('/ws/activity', { sub: 'leaving' });
      for (let i = 0; i < 3; i++) report(u, { type: 'bye', target: `b${i}` });
      await reply(u, 'ping', {});
      expect((await server.stats()).activity.buffered).toBe(3);
      expect(recordedBatches(server)).toEqual([]);

      server.child.kill('SIGTERM');
      expect((await u.waitClose(5000)).code).toBe(1001);
      await within(server.exited, 10_000, 'server did not exit after SIGTERM');
      const items = recordedBatches(server).flat();
      expect(items.map((i) => [i.type, i.target, i.userId])).toEqual([
        ['bye', 'b0', 'leaving'],
        ['bye', 'b1', 'leaving'],
        ['bye', 'b2', 'leaving'],
      ]);
    } finally {
      await server.stop();
    }
  });
});

describe('finding 11: bounded buffer when the sink throws (activityBufferMax 5)', () => {
  const MAX = 5;
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ activitySink: 'throwing', options: { ...FAST, activityBufferMax: MAX, activityFlushIntervalMs: 600_000 } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('finding 11: the buffer never exceeds activityBufferMax and stats().activity.dropped counts every lost item', async () => {
    const u = await pool.open('/ws/activity', { sub: 'u1' });
    const admin = await pool.open('/ws/activity', { sub: 'adm', roles: ['admin'] });
    await reply(admin, 'activity.subscribe', {});
    let sent = 0;
    const samples: number[] = [];
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 23; i++, sent++) report(u, { type: 'lost', target: `n${sent}` });
      await reply(u, 'ping', {});
      const s = (await server.stats()).activity;
      samples.push(s.buffered);
      expect(s.buffered).toBeLessThanOrEqual(MAX);
      expect(s.flushed).toBe(0);
      expect(s.buffered + s.dropped).toBe(sent);
    }
    expect(Math.max(...samples)).toBeLessThanOrEqual(MAX);
    // An explicit flush fails too: everything reported is now counted as dropped.
    await server.request({ cmd: 'flushActivity' });
    expect((await server.stats()).activity).toEqual({ buffered: 0, flushed: 0, dropped: sent });
    // A failing sink breaks nothing else: the connection and the server still answer.
    expect((await reply(u, 'ping', {})).event).toBe('pong');
    expect(admin.all('activity.batch')).toEqual([]);
  });
});

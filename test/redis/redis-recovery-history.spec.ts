/**
 * The Redis recovery history (docs/protocol.md §10) against the run's own standalone Redis AND
 * its three-master cluster (jest globalSetup): atomic offsets from two connections, recovery on
 * another node, TTL → new epoch, one slot per stream, relayed messages in offset order, keys of
 * 1,000 streams spread over the masters, and the Redis commands one append costs.
 */
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { recoveryStream, type StreamPosition } from '../../src/recovery/recovery-history.js';
import { createRedisClient, parseClusterNodes, type RedisClient, whenClientReady } from '../../src/redis/redis-client-factory.js';
import { parseRelayed, RedisRecoveryHistory } from '../../src/redis/redis-recovery-history.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/test-redis-env.js';
import { eventually, sleep } from './redis-helpers.js';

const BOUNDS = { size: 100, ttlMs: 300_000 };
const clusterSeeds = parseClusterNodes(TEST_REDIS_CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(','));

type Mode = 'standalone' | 'cluster';

async function client(mode: Mode): Promise<RedisClient> {
  const created = createRedisClient(mode === 'standalone' ? { url: TEST_REDIS_URL } : { clusterNodes: clusterSeeds });
  await whenClientReady(created, 5000);
  return created;
}

/** Plain connections to every master (the standalone server counts as one). */
async function masters(mode: Mode, via: RedisClient): Promise<Redis[]> {
  if (mode === 'standalone') return [new Redis(TEST_REDIS_URL)];
  return (via as Cluster).nodes('master').map((node) => new Redis({ host: node.options.host, port: node.options.port }));
}

/** Every key under `prefix` on one server. */
async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** The cluster's hash slot of a key, as Redis computes it. */
let slotOracle: Redis;
const keySlot = async (key: string): Promise<number> => Number(await slotOracle.cluster('KEYSLOT', key));

beforeAll(() => {
  slotOracle = new Redis({ host: clusterSeeds[0]!.host, port: clusterSeeds[0]!.port });
});

afterAll(() => {
  slotOracle.disconnect();
});

describe.each<Mode>(['standalone', 'cluster'])('RedisRecoveryHistory on %s Redis', (mode) => {
  const prefix = `test:recovery:${mode}:${randomUUID()}:`;
  let nodeA: RedisClient;
  let nodeB: RedisClient;
  let a: RedisRecoveryHistory;
  let b: RedisRecoveryHistory;
  let servers: Redis[];

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([client(mode), client(mode)]);
    a = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS });
    b = new RedisRecoveryHistory({ client: nodeB, keyPrefix: prefix, bounds: BOUNDS });
    servers = await masters(mode, nodeA);
  });

  afterAll(async () => {
    for (const server of servers) {
      const pipeline = server.pipeline(); // one DEL per key: a cluster master refuses multi-key DEL across slots
      for (const key of await scanKeys(server, prefix)) pipeline.del(key);
      await pipeline.exec();
      server.disconnect();
    }
    nodeA.disconnect();
    nodeB.disconnect();
  });

  const stream = (name: string): string => recoveryStream('tracking', `${name}-${randomUUID()}`);

  test('offsets 1, 2, 3 in one epoch; position and recovery read the same on another node', async () => {
    const s = stream('basic');
    const first = await a.append(s, '{"n":1}');
    await a.append(s, '{"n":2}');
    const third = await b.append(s, '{"n":3}');
    expect(first.offset).toBe(1);
    expect(third).toEqual({ offset: 3, epoch: first.epoch });
    expect(await b.position(s)).toEqual(third);
    expect(await b.recover(s, { offset: 1, epoch: first.epoch })).toEqual({
      recovered: true,
      position: third,
      publications: [
        { offset: 2, data: '{"n":2}' },
        { offset: 3, data: '{"n":3}' },
      ],
    });
  });

  test('concurrent appends from two connections: every offset once, history in offset order', async () => {
    const s = stream('race');
    const appends = (history: RedisRecoveryHistory, who: string) =>
      Promise.all(Array.from({ length: 50 }, (_, i) => history.append(s, JSON.stringify({ who, i })).then((p) => ({ p, data: JSON.stringify({ who, i }) }))));
    const [fromA, fromB] = await Promise.all([appends(a, 'a'), appends(b, 'b')]);
    const all = [...fromA, ...fromB];
    expect(all.map(({ p }) => p.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(all.map(({ p }) => p.epoch)).size).toBe(1);
    const answer = await b.recover(s, { offset: 0, epoch: all[0]!.p.epoch });
    expect(answer.recovered).toBe(true);
    const byOffset = new Map(all.map(({ p, data }) => [p.offset, data]));
    expect(answer.publications).toEqual(answer.publications.map((pub) => ({ offset: pub.offset, data: byOffset.get(pub.offset) })));
    expect(answer.publications.map((pub) => pub.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  test('every recovered:false case, on the Redis data', async () => {
    const small = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: { size: 5, ttlMs: 300_000 } });
    const s = stream('rules');
    let last: StreamPosition = { offset: 0, epoch: '' };
    for (let i = 1; i <= 8; i += 1) last = await small.append(s, JSON.stringify({ i }));
    const refused = { recovered: false, position: last, publications: [] };
    expect(await b.recover(s, { offset: 2, epoch: 'another-epoch' })).toEqual(refused);
    expect(await b.recover(s, { offset: 9, epoch: last.epoch })).toEqual(refused); // ahead
    expect(await b.recover(s, { offset: 2, epoch: last.epoch })).toEqual(refused); // 3 no longer retained
    expect(await b.recover(s, { offset: 8, epoch: last.epoch })).toEqual({ recovered: true, position: last, publications: [] });
    expect((await b.recover(s, { offset: 3, epoch: last.epoch })).publications.map((p) => p.offset)).toEqual([4, 5, 6, 7, 8]);

    const wide = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: { size: 150, ttlMs: 300_000 } });
    const many = stream('many');
    for (let i = 1; i <= 120; i += 1) last = await wide.append(many, '{}');
    expect((await b.recover(many, { offset: 19, epoch: last.epoch })).recovered).toBe(false); // 101 missed
    expect((await b.recover(many, { offset: 20, epoch: last.epoch })).publications).toHaveLength(100);

    const big = stream('big');
    const quarter = JSON.stringify('q'.repeat(128 * 1024 - 2)); // 128 KiB
    for (let i = 0; i < 5; i += 1) last = await a.append(big, quarter);
    expect((await b.recover(big, { offset: 0, epoch: last.epoch })).recovered).toBe(false); // 640 KiB
    expect((await b.recover(big, { offset: 1, epoch: last.epoch })).publications).toHaveLength(4); // exactly 512 KiB
  });

  test('a stream read before its first push keeps that epoch for the push; a recovery there names it', async () => {
    const s = stream('fresh');
    const seen = await b.position(s);
    expect(seen.offset).toBe(0);
    expect(await b.position(s)).toEqual(seen);
    const refused = await b.recover(s, { offset: 4, epoch: 'gone' });
    expect(refused).toEqual({ recovered: false, position: seen, publications: [] });
    expect(await a.append(s, '{}')).toEqual({ offset: 1, epoch: seen.epoch });
    expect((await b.recover(s, seen)).publications).toEqual([{ offset: 1, data: '{}' }]);
  });

  test('the TTL is refreshed per append; when the keys expire the history is lost and the epoch changes', async () => {
    const short = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: { size: 10, ttlMs: 400 } });
    const s = stream('ttl');
    const { meta, list } = short.keysOf(s);
    const before = await short.append(s, '{"n":1}');
    await sleep(250);
    await short.append(s, '{"n":2}');
    expect(await nodeA.pttl(meta)).toBeGreaterThan(250); // refreshed, not counting from the first push
    expect(await nodeA.pttl(list)).toBeGreaterThan(250);
    await sleep(250);
    expect(await short.position(s)).toEqual({ offset: 2, epoch: before.epoch });
    await eventually(async () => expect(await nodeA.exists(meta, list)).toBe(0), 3000, 50);
    const after = await short.position(s);
    expect(after.offset).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
    expect(await short.recover(s, { offset: 1, epoch: before.epoch })).toEqual({ recovered: false, position: after, publications: [] });
    expect(await short.append(s, '{"n":3}')).toEqual({ offset: 1, epoch: after.epoch });
  });

  test('with a signing key, entries are sealed: forged or unsealed history is never recovered', async () => {
    const key = 'recovery-signing-key-0123456789abcdef';
    const sealedA = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS, signingKey: key });
    const sealedB = new RedisRecoveryHistory({ client: nodeB, keyPrefix: prefix, bounds: BOUNDS, signingKey: key });
    const s = stream('sealed');
    const quarter = JSON.stringify('s'.repeat(128 * 1024 - 2));
    let last: StreamPosition = { offset: 0, epoch: '' };
    for (let i = 0; i < 4; i += 1) last = await sealedA.append(s, quarter);
    const stored = await nodeA.lrange(sealedA.keysOf(s).list, 0, -1);
    expect(stored.every((entry) => /^[A-Za-z0-9_-]{43}\./.test(entry) && entry.endsWith(quarter))).toBe(true);
    const exact = await sealedB.recover(s, { offset: 0, epoch: last.epoch }); // 512 KiB of data: seals do not count
    expect(exact.recovered).toBe(true);
    expect(exact.publications.map((p) => p.data)).toEqual([quarter, quarter, quarter, quarter]);

    await nodeA.lset(sealedA.keysOf(s).list, -1, stored[3]!.replace('"s', '"t')); // someone with Redis access edits one
    expect(await sealedB.recover(s, { offset: 2, epoch: last.epoch })).toEqual({ recovered: false, position: last, publications: [] });
    expect(sealedB.stats().forgedEntries).toBe(1);
    const other = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS, signingKey: key.replace('0', 'X') });
    expect((await other.recover(s, { offset: 3, epoch: last.epoch })).recovered).toBe(false);
    await a.append(s, '{"unsealed":true}'); // written without the key
    expect((await sealedB.recover(s, { offset: 4, epoch: last.epoch })).recovered).toBe(false);
    expect(() => new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS, signingKey: 'short' })).toThrow(RangeError);
  });

  test("a stream's keys share one hash slot, whatever its name", async () => {
    for (const name of ['SHP-1', 'a{b}c', '}{', '{', '}', '%7B', 'ü-ñ']) {
      const s = recoveryStream('tracking', name);
      const { meta, list } = a.keysOf(s);
      expect(await keySlot(meta)).toBe(await keySlot(list));
      await a.append(s, '{}'); // the script runs (a cross-slot script fails on the cluster)
      expect((await b.position(s)).offset).toBeGreaterThanOrEqual(1);
    }
    expect(await keySlot(a.keysOf('tracking:x').meta)).not.toBe(await keySlot(a.keysOf('tracking:y').meta));
  });

  test('the relayed message leaves Redis in offset order, from two racing connections', async () => {
    const s = stream('relay');
    const tag = 'shard-7';
    const channel = `${prefix}bus:{${tag}}`;
    const publishCommand = mode === 'cluster' ? 'spublish' : 'publish';
    const relayA = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS, slotTag: () => tag, publishCommand });
    const relayB = new RedisRecoveryHistory({ client: nodeB, keyPrefix: prefix, bounds: BOUNDS, slotTag: () => tag, publishCommand });
    if (mode === 'cluster') expect(await keySlot(relayA.keysOf(s).meta)).toBe(await keySlot(channel));

    // A subscriber on the server that owns the channel (for SSUBSCRIBE: the slot's master).
    const slot = await keySlot(channel);
    const slots = mode === 'cluster' ? await slotOracle.cluster('SLOTS') : [];
    const owner = slots.find(([from, to]) => slot >= from && slot <= to)?.[2];
    const subscriber = owner ? new Redis({ host: String(owner[0]), port: Number(owner[1]) }) : new Redis(TEST_REDIS_URL);
    const received: string[] = [];
    try {
      if (mode === 'cluster') {
        subscriber.on('smessage', (_channel: string, text: string) => received.push(text));
        await subscriber.ssubscribe(channel);
      } else {
        subscriber.on('message', (_channel: string, text: string) => received.push(text));
        await subscriber.subscribe(channel);
      }
      const burst = (history: RedisRecoveryHistory, who: string) =>
        Promise.all(Array.from({ length: 40 }, (_, i) => history.append(s, JSON.stringify({ who, i }), { channel, message: `${who}-${i}` })));
      const [fromA, fromB] = await Promise.all([burst(relayA, 'a'), burst(relayB, 'b')]);
      await eventually(() => expect(received).toHaveLength(80));
      const relayed = received.map((text) => parseRelayed(text)!);
      expect(relayed.map((r) => r.position.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      // each relayed message carries the offset its appender got back
      const sent = new Map([...fromA.map((p, i) => [p.offset, `a-${i}`] as const), ...fromB.map((p, i) => [p.offset, `b-${i}`] as const)]);
      for (const r of relayed) expect(r.message).toBe(sent.get(r.position.offset));
    } finally {
      subscriber.disconnect();
    }
  });

  /** Commands per append on the server holding the stream (steady state: a full history trims one per append). */
  async function commandsPerAppend(history: RedisRecoveryHistory, relay?: { channel: string; message: string }): Promise<Record<string, number>> {
    const s = stream('cost');
    for (let i = 0; i < BOUNDS.size; i += 1) await history.append(s, '{"warm":true}');
    const server = await serverOf(history.keysOf(s).meta);
    const appends = 100;
    const before = await commandStats(server);
    for (let i = 0; i < appends; i += 1) await history.append(s, JSON.stringify({ i }), relay);
    const after = await commandStats(server);
    const perAppend: Record<string, number> = {};
    for (const [name, calls] of after) {
      const delta = calls - (before.get(name) ?? 0);
      if (delta > 0 && name !== 'info') perAppend[name] = delta / appends;
    }
    return perAppend;
  }

  async function serverOf(key: string): Promise<Redis> {
    if (mode === 'standalone') return servers[0]!;
    const slot = await keySlot(key);
    const owner = (await slotOracle.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to)![2];
    return servers.find((server) => server.options.port === Number(owner![1]))!;
  }

  test('one append is one EVALSHA round trip running 6 commands (INFO commandstats)', async () => {
    const perAppend = await commandsPerAppend(a);
    expect(perAppend).toEqual({ evalsha: 1, hmget: 1, rpush: 1, lpop: 1, hset: 1, pexpire: 2 });
    process.stdout.write(`\n[${mode}] Redis commands per append: ${JSON.stringify(perAppend)}\n`);
  });

  test('with a relay the same round trip also publishes', async () => {
    const publishCommand = mode === 'cluster' ? 'spublish' : 'publish';
    const sharded = new RedisRecoveryHistory({ client: nodeA, keyPrefix: prefix, bounds: BOUNDS, slotTag: () => 'shard-1', publishCommand });
    const perAppend = await commandsPerAppend(sharded, { channel: `${prefix}bus:{shard-1}`, message: 'x' });
    expect(perAppend).toEqual({ evalsha: 1, hmget: 1, rpush: 1, lpop: 1, hset: 1, pexpire: 2, [publishCommand]: 1 });
    process.stdout.write(`\n[${mode}] Redis commands per append with relay: ${JSON.stringify(perAppend)}\n`);
  });

  if (mode === 'cluster') {
    test('the keys of 1,000 streams spread over all three masters', async () => {
      const spread = new RedisRecoveryHistory({ client: nodeA, keyPrefix: `${prefix}spread:`, bounds: BOUNDS });
      const streams = Array.from({ length: 1000 }, (_, i) => recoveryStream(i % 2 === 0 ? 'tracking' : 'notifications', `topic-${i}`));
      for (let i = 0; i < streams.length; i += 100) await Promise.all(streams.slice(i, i + 100).map((s) => spread.append(s, '{}')));
      const perMaster = await Promise.all(servers.map(async (server) => (await scanKeys(server, `${prefix}spread:`)).length));
      expect(servers).toHaveLength(3);
      expect(perMaster.reduce((x, y) => x + y, 0)).toBe(2000); // meta + list per stream
      for (const count of perMaster) expect(count).toBeGreaterThan(2000 * 0.2); // ~1/3 each, never one master
      process.stdout.write(`\n[cluster] keys of 1,000 streams per master: ${perMaster.join(', ')}\n`);
    });
  }
});

/** `cmdstat_<name>:calls=N,…` of INFO commandstats. */
async function commandStats(server: Redis): Promise<Map<string, number>> {
  const stats = new Map<string, number>();
  for (const line of (await server.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line.trim());
    if (match) stats.set(match[1]!, Number(match[2]));
  }
  return stats;
}

/**
 * RedisConnection on a Redis Cluster (issue 15 item 2): it gets ready without reconnecting,
 * and its readiness follows the masters: a private three-master cluster loses one master
 * (killed) → not ready while the slots it served are unreachable; the master restarts on its
 * port with its identity → ready again, and keys and sharded channels of every master work.
 */
import { jest } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { RedisConnection } from '../../src/redis/redis-connection.js';
import { ShardChannels, shardOf } from '../../src/redis/shard-channels.js';
import { type PrivateCluster, startPrivateCluster } from '../support/global-setup.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/test-redis-env.js';
import { eventually, sleep, uniquePrefix } from './redis-helpers.js';

jest.setTimeout(40_000);

const HEALTH_INTERVAL_MS = 200;

test('a cluster connection gets ready on its first connect, without closing and starting over', async () => {
  // Five fresh connections: the eager connect of ioredis' nodes once made most of them fail
  // their ready check and reconnect (9 to 51 `close` events each, seconds before ready).
  for (let round = 0; round < 5; round += 1) {
    const connection = new RedisConnection({ clusterNodes: TEST_REDIS_CLUSTER_NODES, keyPrefix: uniquePrefix(), clusterHealthIntervalMs: HEALTH_INTERVAL_MS });
    let closes = 0;
    connection.command.on('close', () => (closes += 1));
    try {
      await connection.waitUntilReady(5000);
      await eventually(() => expect(connection.isReady()).toBe(true), 3000);
      await sleep(300);
      expect({ closes, status: connection.command.status }).toEqual({ closes: 0, status: 'ready' });
    } finally {
      await connection.close();
    }
  }
});

test('a standalone connection is ready as soon as both clients are', async () => {
  const connection = new RedisConnection({ url: TEST_REDIS_URL, keyPrefix: uniquePrefix() });
  try {
    await connection.waitUntilReady(5000);
    expect(connection.isReady()).toBe(true);
  } finally {
    await connection.close();
  }
  expect(connection.isReady()).toBe(false);
});

describe('a master lost and back (private cluster, 1 s node timeout)', () => {
  let cluster: PrivateCluster;
  let connection: RedisConnection;
  const prefix = uniquePrefix();
  const shards = new ShardChannels(prefix);
  /** One key per master: a key whose slot each master owns (found from the slot table). */
  let keyPerMaster: string[];
  const received: string[] = [];

  beforeAll(async () => {
    cluster = await startPrivateCluster(3, ['--cluster-node-timeout', '1000']);
    const seeds = cluster.servers.map((server) => ({ host: '127.0.0.1', port: server.port }));
    connection = new RedisConnection({ clusterNodes: seeds, keyPrefix: prefix, clusterHealthIntervalMs: HEALTH_INTERVAL_MS, maxRetryDelayMs: 200, onError: () => undefined });
    await connection.waitUntilReady(5000);
    await eventually(() => expect(connection.isReady()).toBe(true), 3000);
    const command = connection.command as Cluster;
    const owners = cluster.servers.map((server) => `127.0.0.1:${server.port}`);
    keyPerMaster = [];
    for (const owner of owners) {
      for (let i = 0; keyPerMaster.length < owners.indexOf(owner) + 1; i += 1) {
        const key = connection.key(`probe:{${i}}`);
        const slot = Number(await command.cluster('KEYSLOT', key));
        if (command.slots[slot]?.[0] === owner) keyPerMaster.push(key);
      }
    }
    connection.onMessage((_channel, message) => received.push(message));
    await connection.subscribe(shards.all());
  });

  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  /** Every master takes a write, and every shard channel of the tracking namespace delivers. */
  async function everyMasterWorks(round: string): Promise<void> {
    for (const key of keyPerMaster) expect(await connection.command.set(key, round, 'PX', 10_000)).toBe('OK');
    received.length = 0;
    const channels = Array.from({ length: 64 }, (_, shard) => shards.forTopic('tracking', topicOfShard(shard))!);
    expect(new Set(channels).size).toBe(64);
    for (const channel of channels) await connection.publish(channel, `${round}:${channel}`);
    await eventually(() => expect(received.filter((m) => m.startsWith(`${round}:`)).sort()).toEqual(channels.map((c) => `${round}:${c}`).sort()), 5000);
  }

  test('ready and working on every master; killed master → not ready; restarted → ready and working again', async () => {
    await everyMasterWorks('before');

    const lostAt = Date.now();
    await cluster.kill(1);
    await eventually(() => expect(connection.isReady()).toBe(false), 3000);
    const noticedAfter = Date.now() - lostAt;
    // The survivors still answer, yet the connection is not ready: a third of the slots is gone.
    expect(connection.command.status).toBe('ready');
    await sleep(1500);
    expect(connection.isReady()).toBe(false);

    await cluster.restart(1);
    const backAt = Date.now();
    await eventually(() => expect(connection.isReady()).toBe(true), 15_000);
    const readyAfter = Date.now() - backAt;
    await eventually(async () => {
      await everyMasterWorks(`after-${Date.now()}`);
    }, 15_000);
    process.stdout.write(`\n[cluster] master lost noticed after ${noticedAfter} ms; ready again ${readyAfter} ms after the master restarted\n`);
  });
});

/** A tracking topic whose shard is `shard`. */
function topicOfShard(shard: number): string {
  for (let i = 0; ; i += 1) if (shardOf(`t-${i}`) === shard) return `t-${i}`;
}

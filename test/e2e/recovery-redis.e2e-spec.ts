/**
 * Recovery across nodes (docs/protocol.md §10, docs/recovery.md) on the run's standalone Redis
 * AND its three-master cluster: a client subscribes on node A, loses its connection, and
 * recovers on node B, per recoverable namespace; 100 resubscribes on B race a publish loop on
 * A; measured: the recovery round trip and the Redis commands per publish.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import type { ServerHandle, TestRedis } from '../support/harness.js';
import { deleteKeys, nodeOptions, publish, startCluster, uniquePrefix } from '../support/cluster-helpers.js';
import { redisCommandsOn } from '../support/redis-monitor.js';
import {
  MANY_CLIENTS,
  missedThenLive,
  openStream,
  type Position,
  publishLoop,
  racingResubscribes,
  STREAM_KINDS,
  subscribeStream,
  TRACKING_KIND,
} from '../support/recovery-scenarios.js';
import { TEST_REDIS_CLUSTER_NODES } from '../support/test-redis-env.js';

jest.setTimeout(60_000);

describe.each<TestRedis>(['standalone', 'cluster'])('on %s Redis', (redis) => {
  const prefix = uniquePrefix(`recovery-${redis}`);
  let a: ServerHandle;
  let b: ServerHandle;

  beforeAll(async () => {
    [a, b] = await startCluster(2, nodeOptions(prefix, MANY_CLIENTS), redis);
  });

  afterAll(async () => {
    await Promise.all([a, b].map((node) => node?.stop()));
    if (redis === 'standalone') await deleteKeys(prefix);
    else await deleteClusterKeys(prefix);
  });

  test.each(STREAM_KINDS)('$name: subscribed on A, missed pushes published on A, recovered on B; then live on B at the next offset', async (kind) => {
    await missedThenLive(kind, `x-${kind.name}-1`, { first: a, second: b, publisher: a });
  });

  test('offsets are shared: pushes published on both nodes get one sequence, seen in order on both', async () => {
    const onA = await openStream(a, TRACKING_KIND, 'x-shared');
    const onB = await openStream(b, TRACKING_KIND, 'x-shared');
    await subscribeStream(onA, TRACKING_KIND, 'x-shared');
    await subscribeStream(onB, TRACKING_KIND, 'x-shared');
    await Promise.all([publishLoop(a, TRACKING_KIND, 'x-shared', 30), publishLoop(b, TRACKING_KIND, 'x-shared', 30)]);
    for (const client of [onA, onB]) {
      await client.next((f) => f['offset'] === 60, 5000);
      expect(client.frames.filter((f) => f.event === TRACKING_KIND.push).map((f) => f['offset'])).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      client.socket.terminate();
    }
  });

  test('100 clients on B resubscribing with since while A runs a tight publish loop: no gap, no duplicate', async () => {
    await racingResubscribes('x-race', { subscribers: b, publisher: a });
  });

  test('measured: recovery round trip with 50 missed pushes (recovering on the other node)', async () => {
    const first = await openStream(a, TRACKING_KIND, 'x-rtt');
    const { epoch } = (await subscribeStream(first, TRACKING_KIND, 'x-rtt')).data as unknown as Position;
    first.socket.terminate();
    await publishLoop(a, TRACKING_KIND, 'x-rtt', 50);
    const samples: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const client = await openStream(b, TRACKING_KIND, 'x-rtt');
      const t0 = performance.now();
      const answer = await subscribeStream(client, TRACKING_KIND, 'x-rtt', { offset: 0, epoch });
      samples.push(performance.now() - t0);
      expect(answer.data).toMatchObject({ recovered: true });
      expect((answer.data!['publications'] as unknown[]).length).toBe(50);
      client.socket.terminate();
    }
    samples.sort((x, y) => x - y);
    process.stdout.write(`\n[${redis}] recovery round trip, 50 missed pushes: median ${samples[10]!.toFixed(2)} ms, p90 ${samples[18]!.toFixed(2)} ms\n`);
  });

  if (redis === 'standalone') {
    test('measured: Redis commands per publish, recovery on (tracking) vs off (a mololink event)', async () => {
      const count = 20;
      const on = await redisCommandsOn(prefix, async () => {
        for (let i = 0; i < count; i += 1) await publish(a, 'trackingUpdate', 'x-cost', { i });
      });
      const off = await redisCommandsOn(prefix, async () => {
        for (let i = 0; i < count; i += 1) await publish(a, 'mololink', { userIds: ['u1'] }, 'mololink.cost', { i });
      });
      // Only what a publish runs: commands on the history keys and the channels (not lease renewals of open connections).
      const perPublish = (seen: string[][]) => {
        const counts: Record<string, number> = {};
        for (const [command, ...args] of seen) if (args.some((arg) => arg.startsWith('rh:') || arg.startsWith('bus:'))) counts[command!] = (counts[command!] ?? 0) + 1;
        return Object.fromEntries(Object.entries(counts).map(([command, n]) => [command, n / count]));
      };
      const withRecovery = perPublish(on);
      const without = perPublish(off);
      // One round trip either way: a script (which also publishes the relay) vs a PUBLISH.
      expect(withRecovery['evalsha']).toBe(1);
      expect(withRecovery['publish'] ?? 0).toBe(0);
      expect(withRecovery['lua:publish']).toBe(1);
      expect(without).toEqual({ publish: 1 });
      process.stdout.write(`\n[standalone] Redis commands per publish: recovery on ${JSON.stringify(withRecovery)}; off ${JSON.stringify(without)}\n`);
    });
  }
});

/** Deletes every key under `prefix` on every master of the test cluster. */
async function deleteClusterKeys(prefix: string): Promise<void> {
  for (const seed of TEST_REDIS_CLUSTER_NODES) {
    const master = new Redis({ host: seed.host, port: seed.port });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await master.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) await master.del(key);
      } while (cursor !== '0');
    } finally {
      master.disconnect();
    }
  }
}

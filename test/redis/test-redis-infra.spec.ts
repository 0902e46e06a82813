/**
 * The run's own Redis servers (jest globalSetup, test/support/global-setup.ts): a standalone
 * server and a three-master cluster with every slot served, on ports other than 6379.
 */
import { Cluster, Redis } from 'ioredis';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/test-redis-env.js';

test('the standalone server answers on its own port', async () => {
  expect(TEST_REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  expect(TEST_REDIS_URL).not.toMatch(/:6379$/);
  const redis = new Redis(TEST_REDIS_URL);
  try {
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.info('cluster')).toContain('cluster_enabled:0');
  } finally {
    redis.disconnect();
  }
});

test('the cluster has three masters sharing all 16384 slots, state ok', async () => {
  expect(TEST_REDIS_CLUSTER_NODES).toHaveLength(3);
  const cluster = new Cluster(TEST_REDIS_CLUSTER_NODES.map((n) => ({ ...n })));
  try {
    await cluster.ping();
    expect(cluster.nodes('master')).toHaveLength(3);
    const slots = await cluster.cluster('SLOTS');
    const owners = new Set(slots.map((range) => range[2]?.[1]));
    expect(owners.size).toBe(3);
    expect(slots.reduce((sum, [from, to]) => sum + to - from + 1, 0)).toBe(16384);
    for (const node of cluster.nodes('master')) expect(await node.cluster('INFO')).toContain('cluster_state:ok');
  } finally {
    cluster.disconnect();
  }
});

/** REDIS_CLUSTER_NODES-style seed lists (src/redis/redis-client-factory.ts). */
import { parseClusterNodes } from '../../src/redis/redis-client-factory.js';

test('host:port pairs, comma-separated, blanks ignored, IPv6 in brackets', () => {
  expect(parseClusterNodes(' 10.0.0.1:7000, redis-b:7001,,[::1]:7002 ')).toEqual([
    { host: '10.0.0.1', port: 7000 },
    { host: 'redis-b', port: 7001 },
    { host: '::1', port: 7002 },
  ]);
});

test.each(['', ' , ', 'redis-a', 'redis-a:', 'redis-a:0', 'redis-a:65536', 'redis-a:70x', 'redis://redis-a:7000', '::1:7000'])('%p is refused', (list) => {
  expect(() => parseClusterNodes(list)).toThrow(RangeError);
});

import { fnv1a } from '../../src/redis/redis-keyspace.js';
import { SHARDS_PER_NAMESPACE, ShardChannels, shardOf } from '../../src/redis/shard-channels.js';

describe('ShardChannels', () => {
  const channels = new ShardChannels('rt:');

  it('hashes with FNV-1a 32 (published test vectors): every node and version maps a topic to the same shard', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    expect(shardOf('foobar')).toBe(0xbf9cf968 % SHARDS_PER_NAMESPACE);
  });

  it('names a topic channel with its namespace and shard as the hash tag, and knows what each channel carries', () => {
    const name = channels.forTopic('tracking', 'SHP-1')!;
    expect(name).toBe(`rt:bus:{tracking.${shardOf('SHP-1')}}`);
    expect(channels.roleOf(name)).toEqual({ kind: 'shard', namespace: 'tracking', shard: shardOf('SHP-1') });
    expect(channels.slotTagOf('tracking', 'SHP-1')).toBe(`tracking.${shardOf('SHP-1')}`);
    expect(channels.roleOf(channels.forNamespace('main'))).toEqual({ kind: 'namespace', namespace: 'main' });
    expect(channels.roleOf(channels.control())).toEqual({ kind: 'control' });
    expect(channels.roleOf('rt:bus:tracking')).toBeUndefined();
    expect(channels.roleOf('other:bus:{control}')).toBeUndefined();
  });

  it('gives shard channels only to namespaces with topics; a fixed, small total', () => {
    expect(channels.forTopic('main', 'x')).toBeUndefined();
    const all = channels.all();
    expect(new Set(all).size).toBe(all.length);
    const shardCount = all.filter((c) => channels.roleOf(c)?.kind === 'shard').length;
    expect(shardCount % SHARDS_PER_NAMESPACE).toBe(0);
    expect(shardCount / SHARDS_PER_NAMESPACE).toBe(6); // tracking, notifications, projects, collaboration, commodity, activity
  });

  it('spreads 10,000 topics evenly over the shards', () => {
    const counts = new Array<number>(SHARDS_PER_NAMESPACE).fill(0);
    for (let i = 0; i < 10_000; i += 1) counts[shardOf(`SHP-${i}`)]! += 1;
    const mean = 10_000 / SHARDS_PER_NAMESPACE;
    for (const count of counts) expect(Math.abs(count - mean)).toBeLessThan(mean * 0.4);
  });
});

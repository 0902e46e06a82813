import type { Cluster, Redis } from 'ioredis';

/**
 * What a Redis-backed store needs of the node's Redis: the command client (a standalone
 * server or a Cluster) and the deployment's key prefix. RedisConnection is one.
 */
export interface RedisKeyspace {
  readonly command: Redis | Cluster;
  /** A full key or channel name under the prefix. */
  key(name: string): string;
}

/**
 * `<prefix>{<tag>}<rest>`: every key built with one tag hashes to one Cluster slot (Redis
 * hashes only the text between the first `{` and the next `}`), so one Lua script may touch
 * all of them. Scripts get every key through KEYS and never build a key name themselves: on a
 * Cluster a script runs on the master of its first key's slot and may touch nothing else.
 * A prefix with braces in it stays correct (keys of one tag still share a slot) but may put
 * every key in one slot: keep braces out of REDIS_KEY_PREFIX.
 */
export function taggedKey(keyspace: RedisKeyspace, tag: string, rest = ''): string {
  return keyspace.key(`{${tag}}${rest}`);
}

/**
 * A stable bucket in [0, buckets) for `id` (FNV-1a): spreads ids that share a script call over
 * a fixed number of hash tags, so the work of one node groups into one call per bucket and the
 * buckets spread over the Cluster's masters.
 */
export function bucketOf(id: string, buckets: number): number {
  return fnv1a(id) % buckets;
}

/** FNV-1a (32 bit) over the UTF-16 code units: stable across processes and versions, cheap, well spread. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Runs `task` over `items` with at most `limit` in flight. Calls that touch different slots
 * cannot share a pipeline on a Cluster; this keeps them concurrent without flooding Redis.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export type RedisArg = string | number;

/**
 * A Lua script run by EVALSHA, falling back to EVAL when Redis does not know it yet
 * (first run, or after a restart emptied the script cache). Typed, unlike ioredis'
 * `defineCommand`.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** On a Cluster, every key must be in one hash slot (the script runs where the first key lives). */
  async run(client: Redis | Cluster, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

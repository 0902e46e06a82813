import { bucketOf } from './redis-keyspace.js';
import { NAMESPACE_NAMES, NAMESPACES, type NamespaceName } from '../protocol/namespaces.js';
import type { NamespaceDescriptor } from '../protocol/namespace-descriptor.js';

/**
 * Shard channels per namespace with topics. Fixed: every node must map a topic to the same
 * channel, so changing it is a fleet-wide restart. 64 spreads a namespace's traffic over
 * up to 64 cluster slots (every master of any reasonable cluster) while a node still holds
 * only a few hundred subscriptions in all.
 */
export const SHARDS_PER_NAMESPACE = 64;

/** What a channel carries: a namespace's shard of topics, its namespace-wide messages, or control. */
export type ChannelRole =
  | { readonly kind: 'shard'; readonly namespace: NamespaceName; readonly shard: number }
  | { readonly kind: 'namespace'; readonly namespace: NamespaceName }
  | { readonly kind: 'control' };

/** The shard of a topic within its namespace. */
export function shardOf(topic: string): number {
  return bucketOf(topic, SHARDS_PER_NAMESPACE);
}

/**
 * The names of the inter-node channels under a key prefix. Each name carries a hash tag:
 *   `<prefix>bus:{<namespace>.<shard>}`  topic messages, shard = shardOf(topic)
 *   `<prefix>bus:{<namespace>}`          namespace-wide and targeted messages
 *   `<prefix>bus:{control}`              close messages
 * so on a Redis Cluster every channel lives in one slot (sharded pub/sub), the channels of a
 * namespace spread over the masters, and a stream's recovery keys can share its channel's
 * slot (`slotTagOf`). Only namespaces with topics have shard channels.
 */
export class ShardChannels {
  private readonly roles = new Map<string, ChannelRole>();
  private readonly shardNames = new Map<NamespaceName, readonly string[]>();

  constructor(private readonly prefix: string) {
    this.roles.set(this.name('control'), { kind: 'control' });
    for (const namespace of NAMESPACE_NAMES) {
      this.roles.set(this.name(namespace), { kind: 'namespace', namespace });
      if (!(NAMESPACES[namespace] as NamespaceDescriptor).topic) continue;
      const names = Array.from({ length: SHARDS_PER_NAMESPACE }, (_, shard) => this.name(`${namespace}.${shard}`));
      names.forEach((name, shard) => this.roles.set(name, { kind: 'shard', namespace, shard }));
      this.shardNames.set(namespace, names);
    }
  }

  /** Every channel a node subscribes to. */
  all(): string[] {
    return [...this.roles.keys()];
  }

  /** What `channel` carries; undefined when it is none of ours. */
  roleOf(channel: string): ChannelRole | undefined {
    return this.roles.get(channel);
  }

  /** The channel of a topic; undefined for a namespace without topics (no shard channels). */
  forTopic(namespace: NamespaceName, topic: string): string | undefined {
    return this.shardNames.get(namespace)?.[shardOf(topic)];
  }

  forNamespace(namespace: NamespaceName): string {
    return this.name(namespace);
  }

  control(): string {
    return this.name('control');
  }

  /** The hash tag (without braces) of a topic's shard channel, for keys that must share its slot. */
  slotTagOf(namespace: NamespaceName, topic: string): string {
    return `${namespace}.${shardOf(topic)}`;
  }

  private name(tag: string): string {
    return `${this.prefix}bus:{${tag}}`;
  }
}

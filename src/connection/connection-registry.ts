import { Injectable } from '@nestjs/common';
import type { Connection } from './connection.js';
import { KeyedSets } from '../common/keyed-sets.js';

/**
 * Index of open connections, per namespace (together: all of them) and per user. Entries exist only
 * between open and close, so its size is bounded by the open connections.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly byUser = new KeyedSets<string, Connection>();
  private readonly byNamespace = new Map<string, Set<Connection>>();

  add(connection: Connection): void {
    const ns = connection.namespace.name;
    let set = this.byNamespace.get(ns);
    if (!set) {
      set = new Set();
      this.byNamespace.set(ns, set);
    }
    set.add(connection);
    const userId = connection.userId;
    if (userId !== undefined) this.indexUser(connection, userId);
  }

  /** Called when a pending/anonymous connection authenticates. */
  indexUser(connection: Connection, userId: string): void {
    this.byUser.add(userId, connection);
  }

  remove(connection: Connection): void {
    const ns = connection.namespace.name;
    const nsSet = this.byNamespace.get(ns);
    if (!nsSet?.delete(connection)) return;
    if (nsSet.size === 0) this.byNamespace.delete(ns);
    const userId = connection.userId;
    if (userId !== undefined) this.byUser.delete(userId, connection);
  }

  /** A snapshot of every open connection (the namespace sets are the one index of them). */
  all(): Connection[] {
    const connections: Connection[] = [];
    for (const set of this.byNamespace.values()) for (const connection of set) connections.push(connection);
    return connections;
  }

  count(): number {
    let count = 0;
    for (const set of this.byNamespace.values()) count += set.size;
    return count;
  }

  forUser(userId: string): readonly Connection[] {
    return [...this.byUser.members(userId)];
  }

  inNamespace(ns: string): ReadonlySet<Connection> {
    return this.byNamespace.get(ns) ?? EMPTY;
  }

  sizes(): { connections: number; users: number; namespaces: number } {
    return { connections: this.count(), users: this.byUser.size, namespaces: this.byNamespace.size };
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

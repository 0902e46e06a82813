import { Injectable } from '@nestjs/common';
import type { NamespaceName } from '../protocol/namespaces.js';
import type { RealtimeSocket } from './client-session.js';
import { KeyedSets } from '../common/keyed-sets.js';

/**
 * Index of open connections, per namespace (together: all of them) and per user. Entries exist only
 * between open and close, so its size is bounded by the open connections.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly byUser = new KeyedSets<string, RealtimeSocket>();
  private readonly byNamespace = new Map<NamespaceName, Set<RealtimeSocket>>();

  add(socket: RealtimeSocket): void {
    const ns = socket.session.namespace.name;
    let set = this.byNamespace.get(ns);
    if (!set) {
      set = new Set();
      this.byNamespace.set(ns, set);
    }
    set.add(socket);
    const userId = socket.session.userId;
    if (userId !== undefined) this.indexUser(socket, userId);
  }

  /** Called when a pending/anonymous connection authenticates. */
  indexUser(socket: RealtimeSocket, userId: string): void {
    this.byUser.add(userId, socket);
  }

  remove(socket: RealtimeSocket): void {
    const ns = socket.session.namespace.name;
    const nsSet = this.byNamespace.get(ns);
    if (!nsSet?.delete(socket)) return;
    if (nsSet.size === 0) this.byNamespace.delete(ns);
    const userId = socket.session.userId;
    if (userId !== undefined) this.byUser.delete(userId, socket);
  }

  /** A snapshot of every open connection (the namespace sets are the one index of them). */
  all(): RealtimeSocket[] {
    const sockets: RealtimeSocket[] = [];
    for (const set of this.byNamespace.values()) for (const socket of set) sockets.push(socket);
    return sockets;
  }

  count(): number {
    let count = 0;
    for (const set of this.byNamespace.values()) count += set.size;
    return count;
  }

  forUser(userId: string): readonly RealtimeSocket[] {
    return [...this.byUser.members(userId)];
  }

  inNamespace(ns: NamespaceName): ReadonlySet<RealtimeSocket> {
    return this.byNamespace.get(ns) ?? EMPTY;
  }

  sizes(): { connections: number; users: number; namespaces: number } {
    return { connections: this.count(), users: this.byUser.size, namespaces: this.byNamespace.size };
  }
}

const EMPTY: ReadonlySet<RealtimeSocket> = new Set();

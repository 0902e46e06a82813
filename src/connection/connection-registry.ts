import { Injectable } from '@nestjs/common';
import type { NamespaceName } from '../protocol/namespaces.js';
import type { RealtimeSocket } from './client-session.js';

/**
 * Index of open connections: all of them, per user and per namespace. Entries exist only
 * between open and close, so its size is bounded by the open connections.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly sockets = new Set<RealtimeSocket>();
  private readonly byUser = new Map<string, Set<RealtimeSocket>>();
  private readonly byNamespace = new Map<NamespaceName, Set<RealtimeSocket>>();

  add(socket: RealtimeSocket): void {
    this.sockets.add(socket);
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
    let set = this.byUser.get(userId);
    if (!set) {
      set = new Set();
      this.byUser.set(userId, set);
    }
    set.add(socket);
  }

  remove(socket: RealtimeSocket): void {
    if (!this.sockets.delete(socket)) return;
    const ns = socket.session.namespace.name;
    const nsSet = this.byNamespace.get(ns);
    if (nsSet?.delete(socket) && nsSet.size === 0) this.byNamespace.delete(ns);
    const userId = socket.session.userId;
    if (userId !== undefined) {
      const userSet = this.byUser.get(userId);
      if (userSet?.delete(socket) && userSet.size === 0) this.byUser.delete(userId);
    }
  }

  all(): ReadonlySet<RealtimeSocket> {
    return this.sockets;
  }

  forUser(userId: string): readonly RealtimeSocket[] {
    const set = this.byUser.get(userId);
    return set ? [...set] : [];
  }

  inNamespace(ns: NamespaceName): ReadonlySet<RealtimeSocket> {
    return this.byNamespace.get(ns) ?? EMPTY;
  }

  sizes(): { connections: number; users: number; namespaces: number } {
    return { connections: this.sockets.size, users: this.byUser.size, namespaces: this.byNamespace.size };
  }
}

const EMPTY: ReadonlySet<RealtimeSocket> = new Set();

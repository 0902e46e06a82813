import type { NamespaceName } from '../protocol/namespaces.js';
import type { Identity } from './identity.js';

/**
 * Who may subscribe to (or join) what. Replace it by providing `REALTIME_AUTHORIZATION`
 * in `RealtimeModule.forRoot(options, { overrides })`. Denials reach the client only as
 * `UNAUTHORIZED` with the message `Unauthorized` (finding 19).
 */
export interface RealtimeAuthorization {
  canSubscribe(identity: Identity | undefined, namespace: NamespaceName, topic: string): boolean | Promise<boolean>;
}

export const REALTIME_AUTHORIZATION = Symbol('REALTIME_AUTHORIZATION');

export const ADMIN_ROLE = 'admin';

/** The contract's defaults (docs/protocol.md §5). */
export class DefaultRealtimeAuthorization implements RealtimeAuthorization {
  canSubscribe(identity: Identity | undefined, namespace: NamespaceName, topic: string): boolean {
    switch (namespace) {
      case 'tracking':
      case 'commodity':
      case 'collaboration':
        return true;
      case 'projects': {
        if (!identity) return false;
        if (identity.roles.includes(ADMIN_ROLE)) return true;
        const projects = identity.claims.projects;
        return Array.isArray(projects) && projects.some((p) => p === topic);
      }
      case 'notifications':
        return identity !== undefined && identity.userId === topic;
      case 'activity':
        return identity !== undefined && identity.roles.includes(ADMIN_ROLE);
      case 'main':
      case 'mololink':
        return false;
    }
  }
}

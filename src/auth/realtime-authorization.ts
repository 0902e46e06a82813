import { namespaceByName } from '../protocol/namespaces.js';
import type { Identity } from './identity.js';

export { ADMIN_ROLE } from '../protocol/namespace-descriptors.js';

/**
 * Who may subscribe to (or join) what. Replace it by providing `REALTIME_AUTHORIZATION`
 * in `RealtimeModule.forRoot(options, { overrides })`. Denials reach the client only as
 * `UNAUTHORIZED` with the message `Unauthorized` (finding 19).
 */
export interface RealtimeAuthorization {
  /** `namespace`: a contract namespace name, or one a host application added. */
  canSubscribe(identity: Identity | undefined, namespace: string, topic: string): boolean | Promise<boolean>;
}

export const REALTIME_AUTHORIZATION = Symbol('REALTIME_AUTHORIZATION');

/** Each namespace's own rule, as its descriptor declares it (docs/protocol.md §5 for the contract's). */
export class DefaultRealtimeAuthorization implements RealtimeAuthorization {
  canSubscribe(identity: Identity | undefined, namespace: string, topic: string): boolean {
    return namespaceByName(namespace)?.authorize(identity, topic) ?? false;
  }
}

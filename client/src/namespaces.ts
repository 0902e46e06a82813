import type { NAMESPACES, NamespaceName } from '../../src/protocol/namespaces.js';

/**
 * Which paths require authentication (docs/protocol.md §1). A runtime copy of the server's
 * table, which the client may not import; the type below makes the compiler reject any
 * difference from the server's `NAMESPACES`.
 */
export const AUTH_REQUIRED = {
  main: false,
  tracking: false,
  notifications: true,
  projects: true,
  collaboration: true,
  commodity: true,
  activity: true,
  mololink: true,
} as const satisfies { readonly [N in NamespaceName]: (typeof NAMESPACES)[N]['authRequired'] };

export function authRequired(namespace: string): boolean {
  return (AUTH_REQUIRED as Record<string, boolean>)[namespace] === true;
}

import type { NamespaceDescriptor } from './namespace-descriptor.js';
import { NAMESPACE_DESCRIPTORS } from './namespace-descriptors.js';

/** The contract's namespaces (docs/protocol.md §1), by short name. */
export const NAMESPACES = NAMESPACE_DESCRIPTORS;

export type NamespaceName = keyof typeof NAMESPACES;

/** Every contract namespace's short name, in table order. */
export const NAMESPACE_NAMES: readonly NamespaceName[] = Object.keys(NAMESPACES) as NamespaceName[];

/** A namespace a connection can be on: a contract one, or one a host application added. */
export type NamespaceDefinition = NamespaceDescriptor;

/**
 * The namespaces served, by path and by name: the contract's, plus those added with
 * `@RealtimeNamespace(descriptor)` (bounded by the gateways the application declares).
 */
const BY_PATH = new Map<string, NamespaceDescriptor>();
const BY_NAME = new Map<string, NamespaceDescriptor>();

/** Makes a namespace known to the handshake, the authoriser and the publisher. The same declaration twice is a no-op. */
export function registerNamespace(descriptor: NamespaceDescriptor): void {
  const byName = BY_NAME.get(descriptor.name);
  const byPath = BY_PATH.get(descriptor.path);
  if (byName === descriptor && byPath === descriptor) return;
  if (byName || byPath) throw new Error(`namespace ${descriptor.name} (${descriptor.path}) clashes with one already declared`);
  BY_NAME.set(descriptor.name, descriptor);
  BY_PATH.set(descriptor.path, descriptor);
}

for (const name of NAMESPACE_NAMES) registerNamespace(NAMESPACES[name]);

export function namespaceByPath(path: string): NamespaceDescriptor | undefined {
  return BY_PATH.get(path);
}

export function namespaceByName(name: string): NamespaceDescriptor | undefined {
  return BY_NAME.get(name);
}

/** Every namespace known, contract ones first. */
export function knownNamespaces(): Iterable<NamespaceDescriptor> {
  return BY_NAME.values();
}

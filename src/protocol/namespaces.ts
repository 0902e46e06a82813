/** The namespace table of docs/protocol.md §1: short name, path and whether auth is required. */
export const NAMESPACES = {
  main: { path: '/ws/main', authRequired: false },
  tracking: { path: '/ws/tracking', authRequired: false },
  notifications: { path: '/ws/notifications', authRequired: true },
  projects: { path: '/ws/projects', authRequired: true },
  collaboration: { path: '/ws/collaboration', authRequired: true },
  commodity: { path: '/ws/commodity', authRequired: true },
  activity: { path: '/ws/activity', authRequired: true },
  mololink: { path: '/ws/mololink', authRequired: true },
} as const;

export type NamespaceName = keyof typeof NAMESPACES;

/** Every namespace's short name, in table order. */
export const NAMESPACE_NAMES: readonly NamespaceName[] = Object.keys(NAMESPACES) as NamespaceName[];

export interface NamespaceDefinition {
  readonly name: NamespaceName;
  readonly path: string;
  readonly authRequired: boolean;
}

const BY_PATH = new Map<string, NamespaceDefinition>(
  NAMESPACE_NAMES.map((name) => [
    NAMESPACES[name].path,
    { name, ...NAMESPACES[name] },
  ]),
);

export function namespaceByPath(path: string): NamespaceDefinition | undefined {
  return BY_PATH.get(path);
}

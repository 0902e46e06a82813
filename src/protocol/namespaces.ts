/** The namespace table of PROTOCOL.md §1: short name, path and whether auth is required. */
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

export interface NamespaceDefinition {
  readonly name: NamespaceName;
  readonly path: string;
  readonly authRequired: boolean;
}

const BY_PATH = new Map<string, NamespaceDefinition>(
  (Object.keys(NAMESPACES) as NamespaceName[]).map((name) => [
    NAMESPACES[name].path,
    { name, ...NAMESPACES[name] },
  ]),
);

export function namespaceByPath(path: string): NamespaceDefinition | undefined {
  return BY_PATH.get(path);
}

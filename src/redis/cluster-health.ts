import type { Cluster } from 'ioredis';

/** How often the masters are asked (ms); also the longest a lost master goes unnoticed without a node event. */
export const DEFAULT_CLUSTER_HEALTH_INTERVAL_MS = 1000;

/**
 * Whether every master that owns slots answers and sees the cluster whole. ioredis' Cluster
 * reports `ready` as long as one node answers, so a node whose cluster lost one master (a
 * third of the topics, leases and rooms unreachable) would stay ready without this.
 *
 * Every `intervalMs`, each slot owner named by the client's slot table gets `CLUSTER INFO`;
 * healthy when each one is connected, answers within the interval and reports
 * `cluster_state:ok` (so after a restart readiness waits until the cluster itself is whole
 * again, not only the socket). A node leaving the client's pool (`-node`: its connection
 * ended) turns it unhealthy at once and asks ioredis to re-read the slots, which also
 * reconnects a returned master. One probe at a time; the timer is cleared by `close`.
 */
export class ClusterHealth {
  private healthy = false;
  private probing = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly cluster: Cluster,
    private readonly intervalMs = DEFAULT_CLUSTER_HEALTH_INTERVAL_MS,
    /** Told every verdict (the owner re-subscribes its channels when the cluster is whole again). */
    private readonly onVerdict: (healthy: boolean) => void = () => undefined,
  ) {
    this.timer = setInterval(() => void this.probe(), intervalMs);
    this.timer.unref();
    cluster.on('ready', this.onReady);
    cluster.on('-node', this.onNodeLost);
  }

  /** The last probe found every slot owner answering with the cluster whole, and no node left since. */
  isHealthy(): boolean {
    return this.healthy && this.cluster.status === 'ready';
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.cluster.off('ready', this.onReady);
    this.cluster.off('-node', this.onNodeLost);
  }

  private readonly onReady = (): void => void this.probe();

  private readonly onNodeLost = (): void => {
    this.healthy = false;
    this.onVerdict(false);
    if (!this.closed && this.cluster.status === 'ready') this.cluster.refreshSlotsCache();
  };

  /** Asks every slot owner once; resolves with the verdict (also kept for `isHealthy`). */
  async probe(): Promise<boolean> {
    if (this.probing || this.closed) return this.healthy;
    this.probing = true;
    try {
      const verdict = this.cluster.status === 'ready' && (await this.everyOwnerAnswers());
      // A missing or silent owner: re-read the slots (a failover moved them, or a returned master needs a new connection).
      if (!verdict && this.cluster.status === 'ready') this.cluster.refreshSlotsCache();
      if (!this.closed) {
        this.healthy = verdict;
        this.onVerdict(verdict);
      }
      return verdict;
    } finally {
      this.probing = false;
    }
  }

  private async everyOwnerAnswers(): Promise<boolean> {
    const owners = new Set<string>();
    for (const nodes of this.cluster.slots) if (nodes?.[0]) owners.add(nodes[0]);
    if (owners.size === 0) return false;
    const connected = new Map(this.cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    const answers = await Promise.all(
      [...owners].map(async (owner) => {
        const node = connected.get(owner);
        if (!node || node.status !== 'ready') return false;
        return withTimeout(node.cluster('INFO'), this.intervalMs).then(
          (info) => typeof info === 'string' && info.includes('cluster_state:ok'),
          () => false,
        );
      }),
    );
    return answers.every(Boolean);
  }
}

/** `promise`, or a rejection after `ms` (the timer is cleared either way). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

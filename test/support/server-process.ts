/**
 * A realtime server in a child process for e2e tests. Started with `fork()`; options come
 * as JSON in REALTIME_HARNESS. Talks to the test over IPC: `ready` with the port, then
 * answers `stats`, `publish`, `revoke`, `disconnect`, `gc`, `memory`, `prototypeProbe` and `close` requests.
 */
import 'reflect-metadata';
import type { INestApplication, Provider } from '@nestjs/common';
import {
  ACTIVITY_SINK,
  type ActivityItem,
  ActivityBuffer,
  AlertMonitor,
  bootstrapRealtimeApp,
  BROKER,
  CHAT_HISTORY_STORE,
  type ChatHistoryStore,
  ConnectionLifecycle,
  DefaultRealtimeAuthorization,
  ConnectionRegistry,
  InMemoryRevocationStore,
  REALTIME_AUTHORIZATION,
  type RealtimeOptions,
  RealtimePublisher,
  RecoverableStreams,
  REVOCATION_STORE,
  type RevocationStore,
  SubscriptionRegistry,
} from '../../src/index.js';
import { ConnectionLimiter } from '../../src/connection/connection-limiter.js';
import { HandshakeRateLimiter } from '../../src/connection/handshake-rate-limiter.js';
import { CommodityChat } from '../../src/chat/commodity-chat.service.js';
import { SecurityAuditLog } from '../../src/observability/security-audit-log.js';
import { InMemoryRoomPresenceStore, ROOM_PRESENCE_STORE, type RoomPresenceStore } from '../../src/subscriptions/room-presence.store.js';
import { EchoGateway } from './echo-namespace.js';

export interface HarnessConfig {
  readonly options: RealtimeOptions;
  /** Fault injection: the revocation store throws for this user id. */
  readonly failingRevocationUser?: string;
  /** `throwing`: every activity write fails; `recording`: each batch is printed as `{"activityBatch":[...]}`. */
  readonly activitySink?: 'throwing' | 'recording';
  /** The message of the error the `throwing` activity sink rejects with (default `sink down`). */
  readonly activitySinkError?: string;
  /** Subscribes to AlertMonitor.onAlert and prints each event as `{"alertEvent":{...}}`. */
  readonly alertEvents?: boolean;
  /** Forks the child with `--expose-gc`, so the `gc` request can run a full collection (read by harness.ts). */
  readonly exposeGc?: boolean;
  /** Fault injection: the authorization provider throws for this topic (any namespace), so that handler fails unexpectedly. */
  readonly throwingTopic?: string;
  /** Also serves the test-only namespace of `echo-namespace.ts` (/ws/echo-test). */
  readonly echoNamespace?: boolean;
  /**
   * Fault injection for periodic revalidation (finding R7), once armed by the
   * `armRevocationFaults` request: every `failEvery`-th revocation check throws; each check
   * takes `delayMs`. The store's call figures (since arming) are in `stats`.
   */
  readonly revocationFaults?: { readonly failEvery?: number; readonly delayMs?: number };
  /** Fault injection (finding R9): the presence store records the join of this user, then throws (a lost reply). */
  readonly failingPresenceUser?: string;
  /** In-memory presence store that counts its calls (`presenceCalls` in stats). */
  readonly countPresenceCalls?: boolean;
  /** Listen on this port instead of a free one (restart tests reuse the port of a stopped server). */
  readonly port?: number;
  /** Address to listen on (default 127.0.0.1); `::` listens dual-stack. */
  readonly host?: string;
}

export type HarnessRequest =
  | { readonly seq: number; readonly cmd: 'stats' }
  | { readonly seq: number; readonly cmd: 'close' }
  | { readonly seq: number; readonly cmd: 'trackingUpdate'; readonly trackingId: string; readonly data: Record<string, unknown> }
  | { readonly seq: number; readonly cmd: 'announce'; readonly data: Record<string, unknown> }
  | { readonly seq: number; readonly cmd: 'disconnectUser'; readonly userId: string }
  | { readonly seq: number; readonly cmd: 'revoke'; readonly jti?: string; readonly userId?: string }
  /** Calls any RealtimePublisher method, e.g. `{cmd:'publish', method:'notify', args:[['u1'], {n:1}]}`. */
  | { readonly seq: number; readonly cmd: 'publish'; readonly method: PublisherMethod; readonly args: unknown[] }
  /**
   * `RealtimePublisher.publish(namespace, request)` `count` times in a row, `data.seq` = 0, 1, …,
   * waiting `intervalMs` between two (0: only the publish itself): a tight publish loop inside the node.
   */
  | { readonly seq: number; readonly cmd: 'publishLoop'; readonly namespace: string; readonly request: PublishRequest; readonly count: number; readonly intervalMs: number }
  | { readonly seq: number; readonly cmd: 'flushActivity' }
  /** The broker's counters alone (no Redis round trip, unlike `stats`, so it answers during an outage). */
  | { readonly seq: number; readonly cmd: 'brokerStats' }
  /** Revokes in the store only (no immediate close), so only periodic revalidation can act on it. */
  | { readonly seq: number; readonly cmd: 'revokeInStoreOnly'; readonly jti: string }
  /** Starts the `revocationFaults` (calls are counted from here). */
  | { readonly seq: number; readonly cmd: 'armRevocationFaults' }
  /** Runs `global.gc()` (needs `exposeGc`) and answers `process.memoryUsage()` after it. */
  | { readonly seq: number; readonly cmd: 'gc' }
  /** `process.memoryUsage()` without a collection. */
  | { readonly seq: number; readonly cmd: 'memory' }
  /** Reports whether any built-in prototype gained properties since startup (prototype-pollution checks). */
  | { readonly seq: number; readonly cmd: 'prototypeProbe' };

/** What `prototypeProbe` answers: `polluted` is `({}).polluted`; `added` lists new own keys per prototype. */
export interface PrototypeProbe {
  readonly polluted: unknown;
  readonly added: Record<string, string[]>;
}

type PublishRequest = Parameters<RealtimePublisher['publish']>[1];
type PublisherMethod = 'publish' | 'trackingUpdate' | 'projectUpdate' | 'notify' | 'mololink' | 'announce' | 'disconnectUser' | 'revoke';

/** Built-in prototypes whose own keys are recorded at startup and compared by `prototypeProbe`. */
const PROTOTYPES: Readonly<Record<string, object>> = {
  Object: Object.prototype,
  Array: Array.prototype,
  Function: Function.prototype,
  String: String.prototype,
  Number: Number.prototype,
};
const ownKeys = (proto: object): string[] => Reflect.ownKeys(proto).map(String);
const PROTOTYPE_KEYS_AT_START = Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, new Set(ownKeys(proto))]));

function prototypeProbe(): PrototypeProbe {
  const added: Record<string, string[]> = {};
  for (const [name, proto] of Object.entries(PROTOTYPES)) {
    const fresh = ownKeys(proto).filter((key) => !PROTOTYPE_KEYS_AT_START[name]!.has(key));
    if (fresh.length > 0) added[name] = fresh;
  }
  return { polluted: (({}) as Record<string, unknown>).polluted, added };
}

/** Authorization that fails unexpectedly (throws) for one topic and otherwise applies the defaults. */
class ThrowingAuthorization extends DefaultRealtimeAuthorization {
  constructor(private readonly topic: string) {
    super();
  }

  override canSubscribe(...args: Parameters<DefaultRealtimeAuthorization['canSubscribe']>): boolean {
    if (args[2] === this.topic) throw new Error(`injected fault: authorization provider failed for ${this.topic}`);
    return super.canSubscribe(...args);
  }
}

class FailingRevocationStore extends InMemoryRevocationStore {
  constructor(private readonly failingUser: string) {
    super();
  }

  override async isRevoked(identity: Parameters<InMemoryRevocationStore['isRevoked']>[0]): Promise<boolean> {
    if (identity.userId === this.failingUser) throw new Error('revocation store unavailable');
    return super.isRevoked(identity);
  }
}

/** Fails every n-th check, after a delay; counts calls and the most checks of one token in flight at once. */
class FlakyRevocationStore extends InMemoryRevocationStore {
  calls = 0;
  maxInFlightPerToken = 0;
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly faults: NonNullable<HarnessConfig['revocationFaults']>) {
    super();
  }

  /** Off until the `armRevocationFaults` request: handshakes check the store too, and must pass. */
  armed = false;

  override async isRevoked(identity: Parameters<InMemoryRevocationStore['isRevoked']>[0]): Promise<boolean> {
    if (!this.armed) return super.isRevoked(identity);
    this.calls += 1;
    const call = this.calls;
    const key = `${identity.jti}|${identity.userId}`;
    const inFlight = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, inFlight);
    this.maxInFlightPerToken = Math.max(this.maxInFlightPerToken, inFlight);
    try {
      if (this.faults.delayMs) await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
      if (this.faults.failEvery && call % this.faults.failEvery === 0) throw new Error(`injected fault: revocation check ${call} failed`);
      return await super.isRevoked(identity);
    } finally {
      if (inFlight === 1) this.inFlight.delete(key);
      else this.inFlight.set(key, inFlight - 1);
    }
  }
}

/** Counts store calls (a re-join must make none); for `failingUser`, records the join (as a store whose reply was lost would have), then throws. */
class InstrumentedPresenceStore extends InMemoryRoomPresenceStore {
  readonly calls = { join: 0, leave: 0 };

  constructor(private readonly failingUser?: string) {
    super();
  }

  override async join(...args: Parameters<InMemoryRoomPresenceStore['join']>): ReturnType<InMemoryRoomPresenceStore['join']> {
    this.calls.join += 1;
    const result = await super.join(...args);
    if (args[2].userId === this.failingUser) throw new Error('injected fault: presence store failed during room.join');
    return result;
  }

  override async leave(...args: Parameters<InMemoryRoomPresenceStore['leave']>): ReturnType<InMemoryRoomPresenceStore['leave']> {
    this.calls.leave += 1;
    return super.leave(...args);
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.REALTIME_HARNESS ?? '{}') as HarnessConfig;
  const overrides: Provider[] = [];
  if (config.failingRevocationUser !== undefined) {
    const user = config.failingRevocationUser;
    overrides.push({ provide: REVOCATION_STORE, useFactory: () => new FailingRevocationStore(user) });
  }
  let flakyRevocations: FlakyRevocationStore | undefined;
  if (config.revocationFaults !== undefined) {
    flakyRevocations = new FlakyRevocationStore(config.revocationFaults);
    overrides.push({ provide: REVOCATION_STORE, useValue: flakyRevocations });
  }
  let instrumentedPresence: InstrumentedPresenceStore | undefined;
  if (config.failingPresenceUser !== undefined || config.countPresenceCalls) {
    instrumentedPresence = new InstrumentedPresenceStore(config.failingPresenceUser);
    overrides.push({ provide: ROOM_PRESENCE_STORE, useValue: instrumentedPresence });
  }
  if (config.throwingTopic !== undefined) {
    const topic = config.throwingTopic;
    overrides.push({ provide: REALTIME_AUTHORIZATION, useFactory: () => new ThrowingAuthorization(topic) });
  }
  if (config.activitySink === 'throwing') {
    const message = config.activitySinkError ?? 'sink down';
    overrides.push({ provide: ACTIVITY_SINK, useValue: { write: async () => Promise.reject(new Error(message)) } });
  } else if (config.activitySink === 'recording') {
    overrides.push({
      provide: ACTIVITY_SINK,
      useValue: { write: async (items: readonly ActivityItem[]) => void process.stdout.write(JSON.stringify({ activityBatch: items }) + '\n') },
    });
  }
  const app: INestApplication = await bootstrapRealtimeApp(
    { env: {}, ...config.options },
    { port: config.port ?? 0, host: config.host ?? '127.0.0.1' },
    { overrides, gateways: config.echoNamespace ? [EchoGateway] : [] },
  );
  const address = app.getHttpServer().address() as { port: number };
  const publisher = app.get(RealtimePublisher);
  if (config.alertEvents) {
    app.get(AlertMonitor).onAlert((event) => void process.stdout.write(JSON.stringify({ alertEvent: event }) + '\n'));
  }

  const stats = () => ({
    connections: app.get(ConnectionRegistry).sizes(),
    subscriptions: app.get(SubscriptionRegistry).sizes(),
    limiter: app.get(ConnectionLimiter).sizes(),
    handshakeIps: app.get(HandshakeRateLimiter).size,
    auditSources: app.get(SecurityAuditLog).stats().trackedSources,
    lifecycle: app.get(ConnectionLifecycle).stats(),
    activity: app.get(ActivityBuffer).stats(),
    streamSubscriptions: app.get(RecoverableStreams).size(),
    // The Redis broker's counters (published, publishFailures, received, ownEchoes, rejected by reason); absent in memory.
    broker: brokerStats(),
    heapUsed: process.memoryUsage().heapUsed,
    presenceCalls: instrumentedPresence ? { ...instrumentedPresence.calls } : undefined,
    revocationStore: flakyRevocations ? { calls: flakyRevocations.calls, maxInFlightPerToken: flakyRevocations.maxInFlightPerToken } : undefined,
  });
  function brokerStats(): unknown {
    const broker = app.get<symbol, { stats?: () => unknown }>(BROKER);
    return typeof broker.stats === 'function' ? broker.stats() : undefined;
  }

  const chat = app.get<symbol, ChatHistoryStore>(CHAT_HISTORY_STORE);
  const presence = app.get<symbol, RoomPresenceStore>(ROOM_PRESENCE_STORE);

  process.on('message', (raw: HarnessRequest) => {
    const answer = (result: unknown) => process.send?.({ seq: raw.seq, result });
    const fail = (err: unknown) => process.send?.({ seq: raw.seq, error: err instanceof Error ? err.message : String(err) });
    const run = async (): Promise<unknown> => {
      switch (raw.cmd) {
        case 'stats':
          return { ...stats(), chat: await chat.sizes(), rooms: await presence.rooms(), commodity: await app.get(CommodityChat).stats() };
        case 'publish':
          return (publisher[raw.method] as (...args: unknown[]) => Promise<void>)(...raw.args);
        case 'publishLoop':
          for (let i = 0; i < raw.count; i += 1) {
            await publisher.publish(raw.namespace, { ...raw.request, data: { ...raw.request.data, seq: i } });
            if (raw.intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, raw.intervalMs));
          }
          return null;
        case 'revokeInStoreOnly':
          return app.get<symbol, RevocationStore>(REVOCATION_STORE).revokeToken(raw.jti, Date.now() + 60_000);
        case 'flushActivity':
          return app.get(ActivityBuffer).flush();
        case 'armRevocationFaults':
          if (!flakyRevocations) throw new Error('start the server with revocationFaults');
          flakyRevocations.armed = true;
          return null;
        case 'brokerStats':
          return brokerStats() ?? null;
        case 'gc': {
          const gc = (globalThis as { gc?: () => void }).gc;
          if (typeof gc !== 'function') throw new Error('gc is not exposed: start the server with exposeGc: true');
          // Twice: the first pass can leave objects whose finalizers free more.
          gc();
          await new Promise((resolve) => setImmediate(resolve));
          gc();
          return process.memoryUsage();
        }
        case 'memory':
          return process.memoryUsage();
        case 'prototypeProbe':
          return prototypeProbe();
        case 'trackingUpdate':
          return publisher.trackingUpdate(raw.trackingId, raw.data);
        case 'announce':
          return publisher.announce(raw.data);
        case 'disconnectUser':
          return publisher.disconnectUser(raw.userId);
        case 'revoke':
          return publisher.revoke({ jti: raw.jti, userId: raw.userId });
        case 'close':
          await app.close();
          setImmediate(() => process.exit(0));
          return null;
      }
    };
    run().then(answer, fail);
  });
  process.send?.({ type: 'ready', port: address.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`harness failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

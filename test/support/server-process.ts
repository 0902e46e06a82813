/**
 * A realtime server in a child process for e2e tests. Started with `fork()`; options come
 * as JSON in REALTIME_HARNESS. Talks to the test over IPC: `ready` with the port, then
 * answers `stats`, `publish`, `revoke`, `disconnect` and `close` requests.
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
  ConnectionRegistry,
  InMemoryRevocationStore,
  type RealtimeOptions,
  RealtimePublisher,
  REVOCATION_STORE,
  type RevocationStore,
  SubscriptionRegistry,
} from '../../src/index.js';
import { ConnectionLimiter } from '../../src/connection/connection-limiter.js';
import { HandshakeRateLimiter } from '../../src/connection/handshake-rate-limiter.js';
import { ROOM_PRESENCE_STORE, type RoomPresenceStore } from '../../src/subscriptions/room-presence.store.js';

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
  | { readonly seq: number; readonly cmd: 'flushActivity' }
  /** Revokes in the store only (no immediate close), so only periodic revalidation can act on it. */
  | { readonly seq: number; readonly cmd: 'revokeInStoreOnly'; readonly jti: string };

type PublisherMethod = 'trackingUpdate' | 'projectUpdate' | 'notify' | 'mololink' | 'announce' | 'disconnectUser' | 'revoke';

class FailingRevocationStore extends InMemoryRevocationStore {
  constructor(private readonly failingUser: string) {
    super();
  }

  override async isRevoked(identity: Parameters<InMemoryRevocationStore['isRevoked']>[0]): Promise<boolean> {
    if (identity.userId === this.failingUser) throw new Error('revocation store unavailable');
    return super.isRevoked(identity);
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.REALTIME_HARNESS ?? '{}') as HarnessConfig;
  const overrides: Provider[] = [];
  if (config.failingRevocationUser !== undefined) {
    const user = config.failingRevocationUser;
    overrides.push({ provide: REVOCATION_STORE, useFactory: () => new FailingRevocationStore(user) });
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
  const app: INestApplication = await bootstrapRealtimeApp({ env: {}, ...config.options }, { port: 0, host: '127.0.0.1' }, { overrides });
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
    lifecycle: app.get(ConnectionLifecycle).stats(),
    activity: app.get(ActivityBuffer).stats(),
    // The Redis broker's counters (published, publishFailures, received, ownEchoes, rejected by reason); absent in memory.
    broker: brokerStats(),
    heapUsed: process.memoryUsage().heapUsed,
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
          return { ...stats(), chat: await chat.sizes(), rooms: await presence.rooms() };
        case 'publish':
          return (publisher[raw.method] as (...args: unknown[]) => Promise<void>)(...raw.args);
        case 'revokeInStoreOnly':
          return app.get<symbol, RevocationStore>(REVOCATION_STORE).revokeToken(raw.jti, Date.now() + 60_000);
        case 'flushActivity':
          return app.get(ActivityBuffer).flush();
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

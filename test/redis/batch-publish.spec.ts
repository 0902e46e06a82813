/**
 * Batch publish over Redis (docs/protocol.md §8): one round trip per batch. Between the
 * publisher's node and the real Redis sits a TCP relay that can hold Redis's replies back;
 * while they are held, every command of a batch must already have reached Redis (a publisher
 * waiting for each reply would send one). Items on recoverable streams (tracking) are one
 * EVALSHA each (history append + relay), the others (mololink) one PUBLISH each. An outage
 * rejects the batch (503 over HTTP).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { RealtimeConfig } from '../../src/config/realtime-options.js';
import { InMemoryRevocationStore } from '../../src/auth/revocation-store.js';
import { BrokerUnavailableError, type BrokerMessage } from '../../src/publishing/broker.js';
import { type BatchItem, RealtimePublisher } from '../../src/publishing/realtime-publisher.js';
import { RecoverableStreams } from '../../src/recovery/recoverable-streams.service.js';
import { RedisBroker } from '../../src/redis/redis-broker.js';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import { connect, eventually, recoveryHistoryOn, REDIS_URL, SIGNING_KEY, sleep, type TestConnection, uniquePrefix } from './redis-helpers.js';

/** Relays one client to Redis; counts PUBLISH and EVALSHA commands sent (a command's name opens a RESP array), and holds replies while `held`. */
class HoldingRelay {
  readonly server: Server;
  publishesSent = 0;
  held = false;
  private readonly pending: Array<[Socket, Buffer]> = [];
  private readonly sockets = new Set<Socket>();

  constructor() {
    const { hostname, port } = new URL(REDIS_URL);
    this.server = createServer((client) => {
      const upstream = createConnection({ host: hostname, port: Number(port) });
      this.sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        this.publishesSent += chunk.toString('latin1').toLowerCase().match(/\*\d+\r\n\$7\r\n(?:publish|evalsha)\r\n/g)?.length ?? 0;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => (this.held ? this.pending.push([client, chunk]) : client.write(chunk)));
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        a.on('close', () => b.destroy());
        a.on('error', () => b.destroy());
      }
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(`redis://127.0.0.1:${(this.server.address() as { port: number }).port}`)));
  }

  release(): void {
    this.held = false;
    for (const [client, chunk] of this.pending.splice(0)) client.write(chunk);
  }

  /** Cuts every relayed connection and refuses new ones (an outage). */
  cut(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}

const prefix = uniquePrefix();
const relay = new HoldingRelay();
let viaRelay: TestConnection;
let direct: TestConnection;
let publisher: RealtimePublisher;
let remote: RedisBroker;
const received: BrokerMessage[] = [];

/** Items alternating between a recoverable stream push and a targeted mololink event. */
const batch = (from: number, count: number): BatchItem[] =>
  Array.from({ length: count }, (_, i) =>
    (from + i) % 2 === 0
      ? { namespace: 'tracking', topic: `T${(from + i) % 3}`, data: { n: from + i } }
      : { namespace: 'mololink', event: 'mololink.batch', userIds: ['u-1'], data: { n: from + i } },
  );
const numberOf = (m: BrokerMessage): unknown => (m.type === 'topic' || m.type === 'targeted' ? m.data['n'] : -1);

beforeAll(async () => {
  [viaRelay, direct] = await Promise.all([relay.listen().then((url) => connect(prefix, url)), connect(prefix)]);
  const signer = new EnvelopeSigner(SIGNING_KEY);
  const local = new RedisBroker({ connection: viaRelay, signer, nodeId: 'publisher' });
  remote = new RedisBroker({ connection: direct, signer, nodeId: 'remote' });
  remote.subscribe((m) => received.push(m));
  await Promise.all([local.whenSubscribed(), remote.whenSubscribed()]);
  const history = recoveryHistoryOn(viaRelay);
  // Publishing reads neither the topics nor the registry: only subscribing does.
  const streams = new RecoverableStreams(history, local, {} as never, {} as never);
  publisher = new RealtimePublisher(local, new InMemoryRevocationStore(), { revocationTtlMs: 60_000 } as RealtimeConfig, streams);
  // Loads the append script (a first EVALSHA answers NOSCRIPT and is sent again as EVAL).
  await publisher.publishBatch(batch(1000, 2));
  await eventually(() => expect(received).toHaveLength(2));
  received.length = 0;
});

afterAll(async () => {
  relay.cut();
  await Promise.all([viaRelay.close(), direct.close()]);
});

test('every command (EVALSHA or PUBLISH) of a 50-item batch reaches Redis before its first reply is read; the other node gets them in array order', async () => {
  relay.held = true;
  const sentBefore = relay.publishesSent;
  let settled = false;
  const done = publisher.publishBatch(batch(0, 50)).finally(() => (settled = true));
  await eventually(() => expect(relay.publishesSent - sentBefore).toBe(50));
  await sleep(50);
  expect(settled).toBe(false); // nothing was answered yet: the 50 went out in one round trip
  relay.release();
  await done;
  await eventually(() => expect(received).toHaveLength(50));
  expect(received.map(numberOf)).toEqual(Array.from({ length: 50 }, (_, n) => n));
});

test('control: publishes awaited one by one send a single PUBLISH per round trip', async () => {
  relay.held = true;
  const sentBefore = relay.publishesSent;
  const sequential = (async () => {
    for (const item of batch(100, 3)) await publisher.publish(item.namespace, item);
  })();
  await eventually(() => expect(relay.publishesSent - sentBefore).toBe(1));
  await sleep(100);
  expect(relay.publishesSent - sentBefore).toBe(1);
  relay.release();
  await sequential;
});

test('Redis unreachable: the batch rejects with BrokerUnavailableError (503 over HTTP)', async () => {
  relay.release();
  relay.cut();
  await eventually(() => expect(viaRelay.command.status).not.toBe('ready'));
  await expect(publisher.publishBatch(batch(200, 5))).rejects.toBeInstanceOf(BrokerUnavailableError);
});

/**
 * Recovery scenarios (docs/protocol.md §10) shared by the single-node and the multi-node
 * suites: per recoverable namespace, how to subscribe, publish and read its pushes, and the
 * checks "exactly the missed ones, then live at the next offset" and "no gap, no duplicate
 * while publishes race 100 resubscribes". Pure test-side code: talks to servers over the wire
 * and the harness IPC only.
 */
import { Client, eventually, type Frame, type ServerHandle, sleep, token } from './harness.js';
import { bearer } from './e2e-helpers.js';

/** Node options for these scenarios: many connections of one user from one IP. */
export const MANY_CLIENTS = { handshakeRatePerIp: 100_000, maxConnectionsPerUser: 1000 } as const;

export interface StreamKind {
  readonly name: 'tracking' | 'projects' | 'notifications';
  readonly path: string;
  readonly subscribe: string;
  readonly answer: string;
  readonly push: string;
  /** The field of the subscribe naming the topic; none: the topic is the caller (notifications). */
  readonly key?: string;
  /** The publish request of `POST /realtime/publish` (docs/protocol.md §8) for `topic`. */
  request(topic: string, data: Record<string, unknown>): Record<string, unknown>;
  /** Claims of a user allowed to subscribe to `topic`. */
  claims(topic: string): Record<string, unknown>;
}

export const STREAM_KINDS: readonly StreamKind[] = [
  {
    name: 'tracking',
    path: '/ws/tracking',
    subscribe: 'tracking.subscribe',
    answer: 'tracking.subscribed',
    push: 'tracking.update',
    key: 'trackingId',
    request: (topic, data) => ({ topic, data }),
    claims: () => ({ sub: 'tracker' }),
  },
  {
    name: 'projects',
    path: '/ws/projects',
    subscribe: 'project.subscribe',
    answer: 'project.subscribed',
    push: 'project.update',
    key: 'projectId',
    request: (topic, data) => ({ topic, data }),
    claims: (topic) => ({ sub: 'member', projects: [topic] }),
  },
  {
    name: 'notifications',
    path: '/ws/notifications',
    subscribe: 'notifications.subscribe',
    answer: 'notifications.subscribed',
    push: 'notification',
    request: (topic, data) => ({ userIds: [topic], data }),
    claims: (topic) => ({ sub: topic }),
  },
];

export const TRACKING_KIND = STREAM_KINDS[0]!;

export interface Position {
  offset: number;
  epoch: string;
}

export function openStream(server: ServerHandle, kind: StreamKind, topic: string): Promise<Client> {
  return Client.open(server.ws(kind.path), bearer(token(kind.claims(topic))));
}

export function subscribeData(kind: StreamKind, topic: string, since?: unknown): Record<string, unknown> {
  return { ...(kind.key ? { [kind.key]: topic } : {}), ...(since === undefined ? {} : { since }) };
}

/** Subscribes (with `since` to recover) and returns the answer frame. */
export async function subscribeStream(client: Client, kind: StreamKind, topic: string, since?: Position): Promise<Frame> {
  const answer = await client.call(kind.subscribe, subscribeData(kind, topic, since));
  if (answer.event !== kind.answer) throw new Error(`${kind.subscribe} failed: ${JSON.stringify(answer)}`);
  return answer;
}

/** One in-process publish on `server` (the node's RealtimePublisher). */
export function publishTo(server: ServerHandle, kind: StreamKind, topic: string, data: Record<string, unknown>): Promise<unknown> {
  return server.request({ cmd: 'publish', method: 'publish', args: [kind.name, kind.request(topic, data)] });
}

/** `count` publishes in a row inside `server` (`data.seq` 0…), not waiting for them. */
export function publishLoop(server: ServerHandle, kind: StreamKind, topic: string, count: number, intervalMs = 0): Promise<unknown> {
  return server.request({ cmd: 'publishLoop', namespace: kind.name, request: kind.request(topic, {}), count, intervalMs });
}

/** The stream pushes a client received, in order. */
export const streamPushes = (client: Client, kind: StreamKind): Frame[] => client.frames.filter((f) => f.event === kind.push);

/**
 * The offsets a client was given after its subscribe answer, in order: the recovered
 * publications, then the live pushes that came after the answer.
 */
export function offsetsAfter(client: Client, answer: Frame): number[] {
  const at = client.frames.indexOf(answer);
  const recovered = ((answer.data?.publications as Array<{ offset: number }> | undefined) ?? []).map((p) => p.offset);
  return [...recovered, ...client.frames.slice(at + 1).filter((f) => typeof f['offset'] === 'number').map((f) => f['offset'] as number)];
}

export const consecutive = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/**
 * Subscribe on `first`, receive 3 pushes, lose the connection, 4 more are published (on
 * `publisher`), resubscribe on `second` with `since` → exactly those 4, in order and with their
 * data; then the next push arrives live at the next offset. Returns the recovery answer.
 */
export async function missedThenLive(kind: StreamKind, topic: string, nodes: { first: ServerHandle; second: ServerHandle; publisher: ServerHandle }): Promise<Frame> {
  const before = await openStream(nodes.first, kind, topic);
  const answer = await subscribeStream(before, kind, topic);
  const { offset: start, epoch } = answer.data as unknown as Position;
  expect(typeof epoch).toBe('string');
  for (let n = 1; n <= 3; n += 1) await publishTo(nodes.publisher, kind, topic, { n });
  await eventually(() => streamPushes(before, kind).length === 3, 5000);
  const seen = streamPushes(before, kind);
  expect(seen.map((f) => [f['offset'], f['epoch']])).toEqual([1, 2, 3].map((i) => [start + i, epoch]));
  expect(seen.map((f) => f.data?.['n'])).toEqual([1, 2, 3]);
  before.socket.terminate();

  for (let n = 4; n <= 7; n += 1) await publishTo(nodes.publisher, kind, topic, { n });
  const after = await openStream(nodes.second, kind, topic);
  const recovery = await subscribeStream(after, kind, topic, { offset: start + 3, epoch });
  expect(recovery.data).toMatchObject({ offset: start + 7, epoch, recovered: true });
  const publications = recovery.data!['publications'] as Array<{ offset: number; data: Record<string, unknown> }>;
  expect(publications.map((p) => p.offset)).toEqual([4, 5, 6, 7].map((i) => start + i));
  expect(publications.map((p) => p.data['n'])).toEqual([4, 5, 6, 7]);
  if (kind.key) expect(publications.every((p) => p.data[kind.key!] === topic)).toBe(true);

  await publishTo(nodes.publisher, kind, topic, { n: 8 });
  const live = await after.next(kind.push);
  expect(live).toMatchObject({ offset: start + 8, epoch, data: { n: 8 } });
  await sleep(100);
  expect(offsetsAfter(after, recovery)).toEqual(consecutive(start + 4, start + 8));
  after.socket.terminate();
  return recovery;
}

/**
 * 100 clients lose a stream and resubscribe with `since` while `publisher` runs a tight
 * publish loop: every client's recovered publications plus live pushes are exactly the
 * offsets after its `since` up to the last one, no gap, no duplicate.
 */
export async function racingResubscribes(topic: string, nodes: { subscribers: ServerHandle; publisher: ServerHandle }, clientCount = 100, loop = 300): Promise<void> {
  const kind = TRACKING_KIND;
  const first = await openStream(nodes.subscribers, kind, topic);
  const { epoch } = (await subscribeStream(first, kind, topic)).data as unknown as Position;
  await publishTo(nodes.publisher, kind, topic, { warm: true });
  const since = (await first.next(kind.push))['offset'] as number;
  first.socket.terminate();

  const clients = await Promise.all(Array.from({ length: clientCount }, () => openStream(nodes.subscribers, kind, topic)));
  try {
    // A push every ~2 ms: the resubscribes land in the middle of the loop.
    const publishing = publishLoop(nodes.publisher, kind, topic, loop, 2);
    await sleep(20);
    const answers = await Promise.all(clients.map((client) => subscribeStream(client, kind, topic, { offset: since, epoch })));
    await publishing;
    const last = since + loop;
    await eventually(() => clients.every((client, i) => offsetsAfter(client, answers[i]!).at(-1) === last), 10_000).catch(() => undefined);
    await sleep(200);
    let recovered = 0;
    for (const [i, client] of clients.entries()) {
      const answer = answers[i]!;
      expect(answer.data).toMatchObject({ epoch, recovered: true });
      recovered += (answer.data!['publications'] as unknown[]).length;
      // Nothing reached the client before its answer, and afterwards every offset exactly once.
      expect(client.frames.indexOf(answer)).toBe(client.frames.findIndex((f) => f.event !== 'connected'));
      expect(offsetsAfter(client, answer)).toEqual(consecutive(since + 1, last));
    }
    // The race was real: some clients recovered pushes published during the loop, others got them live.
    expect(recovered).toBeGreaterThan(0);
    expect(recovered).toBeLessThan(clientCount * loop);
  } finally {
    for (const client of clients) client.socket.terminate();
  }
}

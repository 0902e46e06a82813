/**
 * Issue 5, signed inter-node messages: every envelope on Redis carries an HMAC
 * (REDIS_SIGNING_KEY) and a timestamp; nodes drop, and count, unsigned, forged and stale
 * envelopes, so write access to Redis is not enough to inject frames or force-disconnect
 * users (unlike Socket.IO's Redis adapter). The key is required with REDIS_URL, ≥ 32 bytes.
 * The body runs once per Redis kind (test/e2e/cluster-security*.e2e-spec.ts): the run's
 * standalone server and its three-master cluster (sharded pub/sub: SPUBLISH/SSUBSCRIBE).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Cluster, Redis } from 'ioredis';
import { Client, eventually, runMain, SECRET, type ServerHandle, sleep, type TestRedis, token } from '../harness.js';
import { bearer, expectAlive } from '../e2e-helpers.js';
import {
  channel,
  countAfterQuiet,
  deleteKeys,
  listenRaw,
  metric,
  nodeOptions,
  publish,
  publishRaw,
  pushes,
  QUIET_MS,
  REDIS_URL,
  SIGNING_KEY,
  signEnvelope,
  startCluster,
  testRedisClient,
  topicShard,
  uniquePrefix,
} from '../cluster-helpers.js';

export function crossNodeSecurity(redis: TestRedis): void {
  jest.setTimeout(30_000);

  const PREFIX = uniquePrefix(`security-${redis}`);
  /** The shard channel of tracking topic SEC-1 (the tracking receivers' topic). */
  const SEC_1 = topicShard('tracking', 'SEC-1');
  const WRONG_KEY = 'not-the-cluster-key-0123456789abcdefghij';
  const FIVE_MINUTES = 5 * 60_000;
  const NO_REJECTIONS = { unsigned: 0, malformed: 0, forged: 0, stale: 0, oversized: 0, wrong_channel: 0, replayed: 0, invalid_message: 0 };

  let a: ServerHandle;
  let b: ServerHandle;
  let client: Redis | Cluster;
  /** Receivers on both nodes: anonymous /ws/main, a tracking subscriber, the user forged closes aim at. */
  let mainA: Client;
  let mainB: Client;
  let trackB: Client;
  let victimA: Client;
  let victimB: Client;

  const announcement = (data: Record<string, unknown>) => ({ type: 'namespace', namespace: 'main', event: 'system.announcement', data });
  const closeVictim = { type: 'close', userId: 'sec-victim' };
  const receivers = () => [mainA, mainB, trackB, victimA, victimB];

  beforeAll(async () => {
    [a, b] = await startCluster(2, nodeOptions(PREFIX, {}, redis));
    client = testRedisClient(redis);
    mainA = await Client.open(a.ws('/ws/main'));
    mainB = await Client.open(b.ws('/ws/main'));
    trackB = await Client.open(b.ws('/ws/tracking'));
    expect((await trackB.call('tracking.subscribe', { trackingId: 'SEC-1' })).event).toBe('tracking.subscribed');
    victimA = await Client.open(a.ws('/ws/main'), bearer(token({ sub: 'sec-victim' })));
    victimB = await Client.open(b.ws('/ws/main'), bearer(token({ sub: 'sec-victim' })));
  });

  afterAll(async () => {
    for (const c of [mainA, mainB, trackB, victimA, victimB]) c?.socket.terminate();
    await Promise.all([a, b].map((s) => s?.stop()));
    client?.disconnect();
    await deleteKeys(PREFIX, redis);
  });

  /** Publishes `wire` straight to a node channel (SPUBLISH on a cluster); both nodes subscribe to it. */
  async function inject(name: string, wire: string): Promise<void> {
    expect(await publishRaw(client, channel(PREFIX, name), wire)).toBe(2);
  }

  async function rejected(): Promise<[Record<string, number>, Record<string, number>]> {
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    return [sa.broker!.rejected, sb.broker!.rejected];
  }

  /** Sends `wire` to `name`, then checks that no receiver got anything and both nodes counted it under `reason`. */
  async function expectDropped(name: string, wire: string, reason: keyof typeof NO_REJECTIONS): Promise<void> {
    const before = await rejected();
    const framesBefore = receivers().map((c) => pushes(c).length);
    await inject(name, wire);
    await eventually(async () => (await rejected()).every((counts, i) => counts[reason]! === before[i]![reason]! + 1), 3000);
    await sleep(QUIET_MS);
    expect(receivers().map((c) => pushes(c).length)).toEqual(framesBefore);
    for (const c of receivers()) expect(c.socket.readyState).toBe(c.socket.OPEN);
    const after = await rejected();
    for (const [i, counts] of after.entries()) {
      // Exactly one rejection, under the expected reason and no other.
      expect(counts).toEqual({ ...before[i], [reason]: before[i]![reason]! + 1 });
    }
  }

  test('envelopes on Redis are signed: `<base64url HMAC-SHA256>.<json {v, node, epoch, seq, ch, ts, msg}>` with the cluster key (a stream push relayed as `<offset>:<epoch>:<envelope>`)', async () => {
    const seen: string[] = [];
    const relayed: string[] = [];
    const stop = await listenRaw(redis, [channel(PREFIX, SEC_1), channel(PREFIX, 'control')], (_channel, text) => {
      // docs/recovery.md: a recoverable stream's push carries the offset and epoch the history script gave it.
      const relay = /^(\d+):([A-Za-z0-9_-]{16}):/.exec(text);
      if (relay) relayed.push(relay[0]);
      seen.push(relay ? text.slice(relay[0].length) : text);
    });
    try {
      await publish(a, 'trackingUpdate', 'SEC-1', { wire: 1 });
      await publish(a, 'disconnectUser', 'sec-nobody');
      await eventually(() => seen.length >= 2, 3000);
    } finally {
      stop();
    }
    for (const wire of seen) {
      const dot = wire.indexOf('.');
      const [signature, json] = [wire.slice(0, dot), wire.slice(dot + 1)];
      expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(createHmac('sha256', SIGNING_KEY).update(json).digest('base64url')).toBe(signature);
      const envelope = JSON.parse(json) as { v: number; node: string; epoch: string; seq: number; ch: string; ts: number; msg: unknown };
      expect(envelope.v).toBe(2);
      expect(envelope.epoch).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(Number.isSafeInteger(envelope.seq) && envelope.seq > 0).toBe(true);
      expect([channel(PREFIX, SEC_1), channel(PREFIX, 'control')]).toContain(envelope.ch);
      expect(typeof envelope.node).toBe('string');
      expect(Math.abs(Date.now() - envelope.ts)).toBeLessThan(10_000);
    }
    // On a cluster the two channels live on different masters: no order between them.
    const messages = seen.map((w) => (JSON.parse(w.slice(w.indexOf('.') + 1)) as { msg: { type: string } }).msg);
    expect(messages.sort((x, y) => y.type.localeCompare(x.type))).toEqual([
      { type: 'topic', namespace: 'tracking', topics: ['SEC-1'], event: 'tracking.update', data: { wire: 1, trackingId: 'SEC-1' } },
      { type: 'close', userId: 'sec-nobody' },
    ]);
    expect(relayed).toEqual([expect.stringMatching(/^1:/)]);
    await countAfterQuiet([trackB], 'tracking.update');
  });

  test('control: a correctly signed, fresh envelope injected into Redis is delivered (so the drops below are meaningful)', async () => {
    const before = await Promise.all([a.stats(), b.stats()]);
    await inject('main', signEnvelope(SIGNING_KEY, { ch: channel(PREFIX, 'main'), node: randomUUID(), ts: Date.now(), msg: announcement({ control: true }) }));
    expect(await countAfterQuiet([mainA, mainB], 'system.announcement', (f) => f.data?.control === true)).toEqual([1, 1]);
    const after = await Promise.all([a.stats(), b.stats()]);
    for (const i of [0, 1]) {
      expect(after[i]!.broker!.received).toBe(before[i]!.broker!.received + 1);
      expect(after[i]!.broker!.rejected).toEqual(NO_REJECTIONS);
    }
  });

  describe('dropped and counted by every node, and nobody receives anything', () => {
    test('forged: signed with another key (announcement, tracking update, force-disconnect)', async () => {
      await expectDropped('main', signEnvelope(WRONG_KEY, { ch: channel(PREFIX, 'main'), node: randomUUID(), ts: Date.now(), msg: announcement({ forged: true }) }), 'forged');
      const trackingMsg = { type: 'topic', namespace: 'tracking', topics: ['SEC-1'], event: 'tracking.update', data: { forged: true, trackingId: 'SEC-1' } };
      await expectDropped(SEC_1, signEnvelope(WRONG_KEY, { ch: channel(PREFIX, SEC_1), node: randomUUID(), ts: Date.now(), msg: trackingMsg }), 'forged');
      await expectDropped('control', signEnvelope(WRONG_KEY, { ch: channel(PREFIX, 'control'), node: randomUUID(), ts: Date.now(), msg: closeVictim }), 'forged');
      await expectAlive(victimA);
      await expectAlive(victimB);
    });

    test('forged: a genuine signature over a different body (tampered payload)', async () => {
      const genuine = signEnvelope(SIGNING_KEY, { ch: channel(PREFIX, 'main'), node: randomUUID(), ts: Date.now(), msg: announcement({ text: 'harmless' }) });
      const tampered = genuine.replace('harmless', 'phishing');
      expect(tampered).not.toBe(genuine);
      await expectDropped('main', tampered, 'forged');
    });

    test('unsigned: a bare JSON envelope, and a bare broker message', async () => {
      await expectDropped('main', JSON.stringify({ v: 1, node: randomUUID(), ts: Date.now(), msg: announcement({ unsigned: true }) }), 'unsigned');
      await expectDropped('control', JSON.stringify(closeVictim), 'unsigned');
      await expectAlive(victimB);
    });

    test('stale: a valid HMAC with the right key but ts 5 minutes old (and 5 minutes ahead)', async () => {
      const old = signEnvelope(SIGNING_KEY, { ch: channel(PREFIX, 'main'), node: randomUUID(), ts: Date.now() - FIVE_MINUTES, msg: announcement({ stale: true }) });
      await expectDropped('main', old, 'stale');
      await expectDropped('control', signEnvelope(SIGNING_KEY, { ch: channel(PREFIX, 'control'), node: randomUUID(), ts: Date.now() - FIVE_MINUTES, msg: closeVictim }), 'stale');
      await expectDropped('main', signEnvelope(SIGNING_KEY, { ch: channel(PREFIX, 'main'), node: randomUUID(), ts: Date.now() + FIVE_MINUTES, msg: announcement({ future: true }) }), 'stale');
      await expectAlive(victimA);
    });

    test('the rejections are exported as realtime_broker_rejected_total{reason} on /metrics', async () => {
      const [counts] = await rejected();
      for (const reason of ['forged', 'unsigned', 'stale'] as const) {
        expect(counts[reason]).toBeGreaterThan(0);
        expect(await metric(a, 'realtime_broker_rejected_total', { reason })).toBe(counts[reason]);
      }
      expect(await metric(a, 'realtime_broker_publish_failures_total')).toBe(0);
    });
  });

  describe('R6: replay of captured envelopes', () => {
    /** Subscribes to `names` of PREFIX, runs `act`, and returns the first `count` wires seen. */
    async function capture(names: string[], count: number, act: () => Promise<void>): Promise<Array<{ name: string; wire: string }>> {
      const seen: Array<{ name: string; wire: string }> = [];
      const stop = await listenRaw(redis, names.map((n) => channel(PREFIX, n)), (ch, wire) => seen.push({ name: ch.slice(`${PREFIX}bus:{`.length, -1), wire }));
      try {
        await act();
        await eventually(() => seen.length >= count, 3000);
      } finally {
        stop();
      }
      return seen.slice(0, count);
    }

    test('R6: an announcement and a close captured from the real channels, republished 50 times as-is, on another channel and under another prefix, are never delivered twice; every copy is counted', async () => {
      const first = await Client.open(a.ws('/ws/main'), bearer(token({ sub: 'sec-victim-2' })));
      const [announced, closing] = await capture(['main', 'control'], 2, async () => {
        await publish(a, 'announce', { replay: 'once' });
        await eventually(() => [mainA, mainB].every((c) => c.frames.some((f) => f.event === 'system.announcement' && f.data?.replay === 'once')), 3000);
        await publish(a, 'disconnectUser', 'sec-victim-2');
        await eventually(() => first.socket.readyState === first.socket.CLOSED, 3000);
      });
      // The user comes back on both nodes: a replayed close must not throw them out again.
      const victim2A = await Client.open(a.ws('/ws/main'), bearer(token({ sub: 'sec-victim-2' })));
      const victim2B = await Client.open(b.ws('/ws/main'), bearer(token({ sub: 'sec-victim-2' })));
      expect(announced!.name).toBe('main');
      expect(closing!.name).toBe('control');
      expect(await countAfterQuiet([mainA, mainB], 'system.announcement', (f) => f.data?.replay === 'once')).toEqual([1, 1]);

      const before = await rejected();
      const other = uniquePrefix('security-other');
      // Another deployment with the same signing key but its own prefix.
      const [c] = await startCluster(1, nodeOptions(other, {}, redis));
      const mainC = await Client.open(c!.ws('/ws/main'));
      try {
        for (let i = 0; i < 50; i += 1) await inject('main', announced!.wire);
        await inject('control', closing!.wire);
        // On another channel of the same deployment: the close on the main channel, the announcement on control.
        await inject('control', announced!.wire);
        await inject('tracking', announced!.wire);
        await inject('main', closing!.wire);
        // Under the other prefix, on the channels they were captured from.
        expect(await publishRaw(client, channel(other, 'main'), announced!.wire)).toBe(1);
        expect(await publishRaw(client, channel(other, 'control'), closing!.wire)).toBe(1);
        await eventually(async () => (await rejected()).every((counts, i) => counts.replayed! - before[i]!.replayed! === 51), 5000);
        await sleep(QUIET_MS);
        const after = await rejected();
        for (const i of [0, 1]) {
          expect(after[i]!.replayed! - before[i]!.replayed!).toBe(51);
          expect(after[i]!.wrong_channel! - before[i]!.wrong_channel!).toBe(3);
        }
        const otherStats = await c!.stats();
        expect(otherStats.broker!.rejected.wrong_channel).toBe(2);
        expect(otherStats.broker!.received).toBe(0);
        // Nothing was delivered a second time, anywhere.
        expect(await countAfterQuiet([mainA, mainB], 'system.announcement', (f) => f.data?.replay === 'once')).toEqual([1, 1]);
        expect(mainC.frames.filter((f) => f.event === 'system.announcement')).toEqual([]);
        await expectAlive(victim2A);
        await expectAlive(victim2B);
        expect(await metric(b, 'realtime_broker_rejected_total', { reason: 'replayed' })).toBe(after[1]!.replayed);
      } finally {
        mainC.socket.terminate();
        victim2A.socket.terminate();
        victim2B.socket.terminate();
        await c!.stop();
        await deleteKeys(other, redis);
      }
    });
  });

  /** REDIS_URL, or REDIS_CLUSTER_NODES on a cluster: the signing key is required with either. */
  const redisEnv: Record<string, string> = redis === 'cluster' ? { REDIS_CLUSTER_NODES: process.env['TEST_REDIS_CLUSTER_NODES']! } : { REDIS_URL };

  describe(`startup (node dist/main.js with ${Object.keys(redisEnv)[0]})`, () => {
    test.each([
      ['without REDIS_SIGNING_KEY', {}],
      ['with an empty REDIS_SIGNING_KEY', { REDIS_SIGNING_KEY: '' }],
      ['with a 31-byte REDIS_SIGNING_KEY', { REDIS_SIGNING_KEY: 'k'.repeat(31) }],
    ])('%s: exits non-zero before listening, naming REDIS_SIGNING_KEY', async (_name, env) => {
      const result = await runMain({ JWT_SECRET: SECRET, ...redisEnv, REDIS_KEY_PREFIX: PREFIX, ...env });
      expect(result.listened).toBe(false);
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.stderr).toMatch(/REDIS_SIGNING_KEY/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    });

    test('with a 32-byte REDIS_SIGNING_KEY it starts', async () => {
      const result = await runMain({ JWT_SECRET: SECRET, ...redisEnv, REDIS_KEY_PREFIX: PREFIX, REDIS_SIGNING_KEY: 'k'.repeat(32) });
      expect(result.listened).toBe(true);
    });
  });
}

/**
 * The in-memory recovery history (docs/protocol.md §10): offsets and epochs, every
 * `recovered: false` case, retention by count, bytes, TTL (injected clock) and the stream cap.
 */
import {
  decideRecovery,
  InMemoryRecoveryHistory,
  MAX_STREAM_NAME_BYTES,
  type RecoveryBounds,
  RECOVERY_MAX_DATA_BYTES,
  RECOVERY_MAX_PUBLICATIONS,
  recoveryStream,
} from '../../src/recovery/recovery-history.js';

const BOUNDS: RecoveryBounds = { size: 100, ttlMs: 300_000, maxStreams: 100_000, maxBytes: 64 * 1024 * 1024 };
const S = recoveryStream('tracking', 'SHP-1');
const KiB = 1024;

function store(bounds: Partial<RecoveryBounds> = {}, clock = { now: 0 }): InMemoryRecoveryHistory {
  return new InMemoryRecoveryHistory({ ...BOUNDS, ...bounds }, () => clock.now);
}

async function publish(history: InMemoryRecoveryHistory, stream: string, count: number, data = (i: number) => JSON.stringify({ i })): Promise<string> {
  let epoch = '';
  for (let i = 1; i <= count; i += 1) epoch = (await history.append(stream, data(i))).epoch;
  return epoch;
}

describe('offsets and epochs', () => {
  test('append assigns 1, 2, 3 in one epoch; position reports the last', async () => {
    const h = store();
    const a = await h.append(S, '{"n":1}');
    const b = await h.append(S, '{"n":2}');
    const c = await h.append(S, '{"n":3}');
    expect([a.offset, b.offset, c.offset]).toEqual([1, 2, 3]);
    expect(new Set([a.epoch, b.epoch, c.epoch]).size).toBe(1);
    expect(a.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(await h.position(S)).toEqual({ offset: 3, epoch: a.epoch });
  });

  test('concurrent appends get distinct consecutive offsets', async () => {
    const h = store();
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => h.append(S, String(i))));
    expect(got.map((p) => p.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  test('streams are independent', async () => {
    const h = store();
    await publish(h, S, 3);
    const other = await h.append(recoveryStream('notifications', 'user-1'), '{}');
    expect(other.offset).toBe(1);
    expect(other.epoch).not.toBe((await h.position(S)).epoch);
  });

  test('a stream without pushes is at offset 0, and its first push continues that epoch', async () => {
    const h = store();
    const before = await h.position(S);
    expect(before.offset).toBe(0);
    expect(await h.position(S)).toEqual(before);
    expect(await h.append(S, '{}')).toEqual({ offset: 1, epoch: before.epoch });
    expect(await h.recover(S, before)).toEqual({ recovered: true, position: { offset: 1, epoch: before.epoch }, publications: [{ offset: 1, data: '{}' }] });
  });

  test('refuses empty and over-long stream names', async () => {
    const h = store();
    expect(() => h.append('', '{}')).toThrow(RangeError);
    await expect(h.position('x'.repeat(MAX_STREAM_NAME_BYTES + 1))).rejects.toThrow(RangeError);
    await expect(h.recover('é'.repeat(MAX_STREAM_NAME_BYTES / 2 + 1), { offset: 0, epoch: 'e' })).rejects.toThrow(RangeError);
    expect((await h.position('x'.repeat(MAX_STREAM_NAME_BYTES))).offset).toBe(0);
  });
});

describe('recover (docs/protocol.md §10)', () => {
  test('the missed pushes, oldest first, exactly as appended', async () => {
    const h = store();
    const epoch = await publish(h, S, 5);
    expect(await h.recover(S, { offset: 2, epoch })).toEqual({
      recovered: true,
      position: { offset: 5, epoch },
      publications: [3, 4, 5].map((i) => ({ offset: i, data: JSON.stringify({ i }) })),
    });
    const all = await h.recover(S, { offset: 0, epoch });
    expect(all.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  test('since equal to the current offset: recovered, nothing to send', async () => {
    const h = store();
    const epoch = await publish(h, S, 4);
    expect(await h.recover(S, { offset: 4, epoch })).toEqual({ recovered: true, position: { offset: 4, epoch }, publications: [] });
  });

  test('another epoch: not recovered', async () => {
    const h = store();
    const epoch = await publish(h, S, 4);
    expect(await h.recover(S, { offset: 2, epoch: `${epoch}x` })).toEqual({ recovered: false, position: { offset: 4, epoch }, publications: [] });
  });

  test('since ahead of the stream: not recovered', async () => {
    const h = store();
    const epoch = await publish(h, S, 4);
    expect(await h.recover(S, { offset: 5, epoch })).toEqual({ recovered: false, position: { offset: 4, epoch }, publications: [] });
  });

  test('pushes after since no longer retained: not recovered; the retained tail still recovers', async () => {
    const h = store({ size: 5 });
    const epoch = await publish(h, S, 10);
    expect((await h.recover(S, { offset: 4, epoch })).recovered).toBe(false);
    const tail = await h.recover(S, { offset: 5, epoch });
    expect(tail.recovered).toBe(true);
    expect(tail.publications.map((p) => p.offset)).toEqual([6, 7, 8, 9, 10]);
  });

  test(`more than ${RECOVERY_MAX_PUBLICATIONS} missed pushes: not recovered, even when retained`, async () => {
    const h = store({ size: 200 });
    const epoch = await publish(h, S, 150);
    expect(await h.recover(S, { offset: 49, epoch })).toEqual({ recovered: false, position: { offset: 150, epoch }, publications: [] });
    const hundred = await h.recover(S, { offset: 50, epoch });
    expect(hundred.recovered).toBe(true);
    expect(hundred.publications).toHaveLength(100);
    expect(hundred.publications[0]!.offset).toBe(51);
  });

  test('more than 512 KiB of missed data: not recovered; exactly 512 KiB is fine', async () => {
    const h = store();
    const quarter = 'a'.repeat(128 * KiB - 2);
    const epoch = await publish(h, S, 4, () => JSON.stringify(quarter)); // 4 × 128 KiB = 512 KiB
    const exact = await h.recover(S, { offset: 0, epoch });
    expect(exact.recovered).toBe(true);
    expect(exact.publications.reduce((sum, p) => sum + Buffer.byteLength(p.data), 0)).toBe(RECOVERY_MAX_DATA_BYTES);
    await h.append(S, '{"one":"more byte than allowed when all five are missed"}');
    expect((await h.recover(S, { offset: 0, epoch })).recovered).toBe(false);
    expect((await h.recover(S, { offset: 1, epoch })).publications).toHaveLength(4);
  });

  test('the 512 KiB rule counts UTF-8 bytes, not characters', () => {
    const position = { offset: 3, epoch: 'e' };
    const data = 'é'.repeat(100 * KiB); // 200 KiB each
    expect(decideRecovery(position, [data, data, data], { offset: 0, epoch: 'e' })).toEqual({ recovered: false, position, publications: [] });
    expect(decideRecovery(position, [data, data, data], { offset: 1, epoch: 'e' }).publications.map((p) => p.offset)).toEqual([2, 3]);
  });

  test('a malformed since is never recovered', () => {
    const position = { offset: 3, epoch: 'e' };
    for (const offset of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      expect(decideRecovery(position, ['1', '2', '3'], { offset, epoch: 'e' }).recovered).toBe(false);
    }
  });

  test('an unknown stream: not recovered, and the answer names the epoch its pushes will carry', async () => {
    const h = store();
    const answer = await h.recover(S, { offset: 3, epoch: 'old' });
    expect(answer.recovered).toBe(false);
    expect(answer.position.offset).toBe(0);
    expect(await h.append(S, '{}')).toEqual({ offset: 1, epoch: answer.position.epoch });
  });
});

describe('retention', () => {
  test(`keeps the last RECOVERY_HISTORY_SIZE pushes`, async () => {
    const h = store({ size: 3 });
    const epoch = await publish(h, S, 7);
    expect((await h.recover(S, { offset: 4, epoch })).publications.map((p) => p.offset)).toEqual([5, 6, 7]);
    expect((await h.recover(S, { offset: 3, epoch })).recovered).toBe(false);
  });

  test('size 0 keeps no pushes but still numbers them', async () => {
    const h = store({ size: 0 });
    const epoch = await publish(h, S, 3);
    expect(await h.position(S)).toEqual({ offset: 3, epoch });
    expect((await h.recover(S, { offset: 3, epoch })).recovered).toBe(true);
    expect((await h.recover(S, { offset: 2, epoch })).recovered).toBe(false);
  });

  test('a stream never holds more than one answer can carry (512 KiB of data)', async () => {
    const h = store();
    const big = JSON.stringify('b'.repeat(300 * KiB));
    const epoch = await publish(h, S, 3, () => big);
    expect(h.sizes().bytes).toBe(Buffer.byteLength(big) + Buffer.byteLength(S));
    expect((await h.recover(S, { offset: 2, epoch })).publications.map((p) => p.offset)).toEqual([3]);
  });

  test('TTL counts from the last push; then the history is lost and the epoch changes', async () => {
    const clock = { now: 1_000 };
    const h = store({ ttlMs: 10_000 }, clock);
    const epoch = await publish(h, S, 2);
    clock.now += 9_999;
    await h.append(S, '{"late":true}'); // refreshes the TTL
    clock.now += 9_999;
    expect(await h.position(S)).toEqual({ offset: 3, epoch });
    clock.now += 1;
    const after = await h.position(S);
    expect(after.offset).toBe(0);
    expect(after.epoch).not.toBe(epoch);
    expect((await h.recover(S, { offset: 3, epoch })).recovered).toBe(false);
    expect(await h.append(S, '{}')).toEqual({ offset: 1, epoch: after.epoch });
  });

  test('reads do not extend the TTL; an epoch handed out before any push expires too', async () => {
    const clock = { now: 0 };
    const h = store({ ttlMs: 1_000 }, clock);
    const first = await h.position(S);
    clock.now = 999;
    expect(await h.position(S)).toEqual(first);
    clock.now = 1_000;
    expect((await h.position(S)).epoch).not.toBe(first.epoch);
  });

  test('sweep drops expired streams and remembered epochs', async () => {
    const clock = { now: 0 };
    const h = store({ ttlMs: 1_000 }, clock);
    await publish(h, 'tracking:a', 2);
    await h.position('tracking:b');
    expect(h.sizes()).toMatchObject({ streams: 1, emptyStreams: 1 });
    clock.now = 1_000;
    h.sweep();
    expect(h.sizes()).toEqual({ streams: 0, emptyStreams: 0, bytes: 0 });
  });

  test('past RECOVERY_MAX_STREAMS the least recently published stream is evicted (reads do not count) and gets a new epoch', async () => {
    const h = store({ maxStreams: 3 });
    const epochA = await publish(h, 'tracking:a', 2);
    const epochB = await publish(h, 'tracking:b', 2);
    await publish(h, 'tracking:c', 2);
    await h.recover('tracking:a', { offset: 0, epoch: epochA }); // a read: a stays least recently published
    await publish(h, 'tracking:d', 1);
    expect(h.sizes().streams).toBe(3);
    const a = await h.position('tracking:a');
    expect(a.offset).toBe(0);
    expect(a.epoch).not.toBe(epochA);
    expect((await h.recover('tracking:a', { offset: 1, epoch: epochA })).recovered).toBe(false);
    expect(await h.position('tracking:b')).toEqual({ offset: 2, epoch: epochB });
    await h.append('tracking:b', '{}'); // b is now the most recently published: c goes next
    await publish(h, 'tracking:e', 1);
    expect((await h.position('tracking:c')).offset).toBe(0);
    expect((await h.position('tracking:b')).offset).toBe(3);
  });

  test('subscribes to many unknown streams never evict published history', async () => {
    const h = store({ maxStreams: 2 });
    const epoch = await publish(h, 'tracking:real', 3);
    for (let i = 0; i < 1_000; i += 1) await h.position(`tracking:probe-${i}`);
    expect(await h.position('tracking:real')).toEqual({ offset: 3, epoch });
    expect(h.sizes()).toMatchObject({ streams: 1, emptyStreams: 2 });
  });

  test('total bytes stay within maxBytes, evicting the least recently published streams', async () => {
    const maxBytes = 40 * KiB;
    const h = store({ maxBytes });
    const data = JSON.stringify('x'.repeat(3 * KiB));
    for (let i = 0; i < 200; i += 1) {
      await h.append(`projects:${i % 7}`, data);
      expect(h.sizes().bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(h.sizes().bytes).toBeGreaterThan(maxBytes / 2); // evicts only what it must
    // the most recently published stream kept its whole history up to the byte bound
    const last = await h.position('projects:3');
    expect(last.offset).toBeGreaterThan(0);
    expect((await h.recover('projects:3', { offset: last.offset - 1, epoch: last.epoch })).recovered).toBe(true);
  });

  test('one stream larger than maxBytes keeps only its newest pushes that fit', async () => {
    const h = store({ maxBytes: 10 * KiB });
    const data = JSON.stringify('y'.repeat(3 * KiB));
    const epoch = await publish(h, S, 5, () => data);
    expect(h.sizes().bytes).toBeLessThanOrEqual(10 * KiB);
    expect((await h.recover(S, { offset: 2, epoch })).publications.map((p) => p.offset)).toEqual([3, 4, 5]);
    expect((await h.recover(S, { offset: 1, epoch })).recovered).toBe(false);
  });
});

import { MAX_ACTIVITY_BATCH_FRAME_BYTES, splitActivityBatches } from '../../src/activity/broadcast-activity.sink.js';
import type { ActivityItem } from '../../src/activity/activity-sink.js';

const frameBytes = (items: readonly ActivityItem[]) => Buffer.byteLength(JSON.stringify({ event: 'activity.batch', data: { items } }));
const item = (n: number, metadataChars: number): ActivityItem => ({
  type: 'big',
  target: `t${n}`,
  metadata: { blob: 'é'.repeat(metadataChars) },
  userId: `u${n % 7}`,
  timestamp: '2026-11-30T00:00:00.000Z',
});

describe('splitActivityBatches (R2: one flush never makes a frame over 256 KiB)', () => {
  test.each([1, 100, 500, 2000])('%i items of mixed sizes: every frame within the cap, nothing lost, order kept', (count) => {
    const items = Array.from({ length: count }, (_, n) => item(n, (n * 37) % 500));
    const runs = splitActivityBatches(items, MAX_ACTIVITY_BATCH_FRAME_BYTES);
    for (const run of runs) expect(frameBytes(run)).toBeLessThanOrEqual(MAX_ACTIVITY_BATCH_FRAME_BYTES);
    expect(runs.flat()).toEqual(items);
    expect(runs.every((run) => run.length > 0)).toBe(true);
  });

  test('fills frames: the first run of a large flush would overflow with one more item', () => {
    const items = Array.from({ length: 1000 }, (_, n) => item(n, 400));
    const runs = splitActivityBatches(items, MAX_ACTIVITY_BATCH_FRAME_BYTES);
    expect(runs.length).toBeGreaterThan(1);
    expect(frameBytes([...runs[0]!, runs[1]![0]!])).toBeGreaterThan(MAX_ACTIVITY_BATCH_FRAME_BYTES);
  });

  test('a cap met exactly is allowed', () => {
    const items = [item(1, 10), item(2, 10)];
    expect(splitActivityBatches(items, frameBytes(items))).toEqual([items]);
    expect(splitActivityBatches(items, frameBytes(items) - 1)).toEqual([[items[0]], [items[1]]]);
  });

  test('nothing to send makes no frame', () => {
    expect(splitActivityBatches([], MAX_ACTIVITY_BATCH_FRAME_BYTES)).toEqual([]);
  });
});

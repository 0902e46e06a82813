import { TokenBucket } from '../../src/common/token-bucket.js';

function drain(bucket: TokenBucket, now: number, max = 1_000): number {
  let taken = 0;
  while (taken < max && bucket.take(now) === 0) taken += 1;
  return taken;
}

describe('TokenBucket', () => {
  it('allows a full burst of `capacity` at once, then refuses (finding 9: anonymous 5/s, burst 10)', () => {
    const bucket = new TokenBucket(5, 10, 0);
    for (let i = 0; i < 10; i += 1) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBeGreaterThan(0);
  });

  it('authenticated defaults: 20/s with bursts of 40', () => {
    const bucket = new TokenBucket(20, 40, 1_000);
    expect(drain(bucket, 1_000)).toBe(40);
    // One second later exactly 20 more are available.
    expect(drain(bucket, 2_000)).toBe(20);
  });

  it('returns the milliseconds until the next token when refused (finding 9)', () => {
    const bucket = new TokenBucket(5, 10, 0);
    drain(bucket, 0);
    // Empty bucket at 5/s: next token in 200 ms.
    expect(bucket.take(0)).toBe(200);
    // Half a token accrued after 100 ms: 100 ms to go.
    expect(bucket.take(100)).toBe(100);
  });

  it('a refused take does not consume anything', () => {
    const bucket = new TokenBucket(5, 10, 0);
    drain(bucket, 0);
    for (let i = 0; i < 50; i += 1) expect(bucket.take(0)).toBe(200);
    expect(bucket.take(200)).toBe(0);
  });

  it('refills at ratePerSec', () => {
    const bucket = new TokenBucket(5, 10, 0);
    drain(bucket, 0);
    expect(bucket.take(199)).toBeGreaterThan(0);
    expect(bucket.take(200)).toBe(0);
    expect(bucket.take(200)).toBeGreaterThan(0);
    expect(drain(bucket, 1_200)).toBe(5);
  });

  it('never accumulates more than capacity, however long it idles (finding 9)', () => {
    const bucket = new TokenBucket(5, 10, 0);
    expect(drain(bucket, 3_600_000)).toBe(10);
  });

  it('ignores a clock that goes backwards instead of granting or losing tokens', () => {
    const bucket = new TokenBucket(5, 10, 10_000);
    drain(bucket, 10_000);
    expect(bucket.take(5_000)).toBe(200);
    expect(bucket.take(10_200)).toBe(0);
  });

  it('reports at least 1 ms even at very high rates', () => {
    const bucket = new TokenBucket(1_000_000, 1, 0);
    expect(bucket.take(0)).toBe(0);
    const wait = bucket.take(0);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(wait)).toBe(true);
  });

  it('rounds the wait up, so retrying after it always succeeds', () => {
    const bucket = new TokenBucket(3, 1, 0);
    expect(bucket.take(0)).toBe(0);
    const wait = bucket.take(0);
    expect(wait).toBe(334); // 1/3 s rounded up
    expect(bucket.take(wait - 1)).toBeGreaterThan(0);
    expect(bucket.take(wait)).toBe(0);
  });
});

describe('TokenBucket with a cost (byte budgets, R3)', () => {
  it('takes `cost` units at once and says how long until that many are there', () => {
    const bucket = new TokenBucket(1000, 2000, 0);
    expect(bucket.take(0, 1500)).toBe(0);
    expect(bucket.take(0, 450)).toBe(0);
    // 50 left; 450 more need 400 ms at 1000/s.
    expect(bucket.take(0, 450)).toBe(400);
    expect(bucket.take(400, 450)).toBe(0);
  });

  it('a cost above the capacity is charged as the capacity: it passes on a full bucket instead of never', () => {
    const bucket = new TokenBucket(10, 100, 0);
    expect(bucket.take(0, 5000)).toBe(0);
    expect(bucket.take(0, 5000)).toBe(10_000);
    expect(bucket.take(10_000, 5000)).toBe(0);
  });
});

import { KeyedRateLimiter } from '../../src/common/keyed-rate-limiter.js';

describe('KeyedRateLimiter (per-user chat rate, R1)', () => {
  it('R1: one bucket per key: a key past its burst is refused with the wait, other keys are not', () => {
    const limiter = new KeyedRateLimiter(2, 10, 100);
    for (let i = 0; i < 10; i += 1) expect(limiter.take('u1', 0)).toBe(0);
    expect(limiter.take('u1', 0)).toBe(500);
    expect(limiter.take('u2', 0)).toBe(0);
    expect(limiter.take('u1', 500)).toBe(0);
  });

  it('finding 24: an entry idle for the full refill time is dropped (it equals a fresh one); a busy one is kept', () => {
    const limiter = new KeyedRateLimiter(2, 10, 100);
    for (let i = 0; i < 10; i += 1) limiter.take('idle', 0);
    limiter.take('busy', 4000);
    expect(limiter.size).toBe(2);
    // 5 s refill time: at 5000 the idle entry goes, busy (used at 4000) stays.
    limiter.take('other', 5000);
    expect(limiter.size).toBe(2);
    // The dropped user starts again with a full burst: no state lost, since its bucket was full.
    for (let i = 0; i < 10; i += 1) expect(limiter.take('idle', 5000)).toBe(0);
    expect(limiter.take('idle', 5000)).toBeGreaterThan(0);
  });

  it('finding 24: never holds more than its capacity, however many keys', () => {
    const limiter = new KeyedRateLimiter(2, 10, 1000);
    for (let i = 0; i < 50_000; i += 1) limiter.take(`user-${i}`, 0);
    expect(limiter.size).toBe(1000);
  });
});

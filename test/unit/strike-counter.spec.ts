import { StrikeCounter } from '../../src/common/strike-counter.js';

describe('StrikeCounter', () => {
  it('reports on the `limit`-th strike inside the window (finding 14: WS_MAX_INVALID_FRAMES=20 a minute → 4400)', () => {
    const counter = new StrikeCounter(20, 60_000);
    for (let i = 0; i < 19; i += 1) expect(counter.hit(i * 1_000)).toBe(false);
    expect(counter.hit(19_000)).toBe(true);
  });

  it('does not report when the strikes are spread wider than the window (finding 14)', () => {
    const counter = new StrikeCounter(3, 1_000);
    expect(counter.hit(0)).toBe(false);
    expect(counter.hit(500)).toBe(false);
    // Oldest of the last three is exactly windowMs old: outside the window.
    expect(counter.hit(1_000)).toBe(false);
    // Now the last three are 500, 1000, 1100: within 1000 ms.
    expect(counter.hit(1_100)).toBe(true);
  });

  it('keeps reporting while strikes keep arriving fast (finding 14)', () => {
    const counter = new StrikeCounter(3, 1_000);
    counter.hit(0);
    counter.hit(1);
    expect(counter.hit(2)).toBe(true);
    expect(counter.hit(3)).toBe(true);
    expect(counter.hit(4)).toBe(true);
  });

  it('slides: old strikes stop counting once they leave the window', () => {
    const counter = new StrikeCounter(3, 1_000);
    counter.hit(0);
    counter.hit(10);
    expect(counter.hit(20)).toBe(true);
    // A long pause, then two strikes: only two fall inside the window.
    expect(counter.hit(5_000)).toBe(false);
    expect(counter.hit(5_010)).toBe(false);
    expect(counter.hit(5_020)).toBe(true);
  });

  it('limit 1 reports on every strike', () => {
    const counter = new StrikeCounter(1, 60_000);
    expect(counter.hit(0)).toBe(true);
    expect(counter.hit(1_000_000)).toBe(true);
  });

  it('RATE_LIMITED strikes: 10 in a minute → 4429, 9 do not', () => {
    const counter = new StrikeCounter(10, 60_000);
    const results = Array.from({ length: 10 }, (_, i) => counter.hit(i * 6_000));
    expect(results).toEqual([false, false, false, false, false, false, false, false, false, true]);
  });

  it('memory stays bounded by `limit` however many strikes are recorded (finding 24)', () => {
    const counter = new StrikeCounter(5, 1_000);
    for (let i = 0; i < 10_000; i += 1) counter.hit(i * 10_000);
    const stamps = (counter as unknown as { stamps: number[] }).stamps;
    expect(stamps.length).toBe(5);
  });
});

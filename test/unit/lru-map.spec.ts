import { LruMap } from '../../src/common/lru-map.js';

describe('LruMap', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses capacity %p', (capacity) => {
    expect(() => new LruMap<string, number>(capacity)).toThrow(RangeError);
  });

  it('accepts a capacity of 1 and keeps only the latest entry', () => {
    const map = new LruMap<string, number>(1);
    map.set('a', 1);
    map.set('b', 2);
    expect(map.size).toBe(1);
    expect(map.peek('a')).toBeUndefined();
    expect(map.peek('b')).toBe(2);
  });

  it('never holds more than its capacity, however many keys are inserted (finding 24)', () => {
    const map = new LruMap<string, number>(100);
    for (let i = 0; i < 10_000; i += 1) {
      map.set(`k${i}`, i);
      expect(map.size).toBeLessThanOrEqual(100);
    }
    expect(map.size).toBe(100);
    // The survivors are exactly the 100 most recent keys.
    expect([...map.keys()]).toEqual(Array.from({ length: 100 }, (_, i) => `k${9_900 + i}`));
  });

  it('evicts the least recently inserted entry first (finding 24)', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    map.set('d', 4);
    expect(map.peek('a')).toBeUndefined();
    expect([...map.keys()]).toEqual(['b', 'c', 'd']);
  });

  it('get refreshes recency, so the entry read survives the next eviction', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    expect(map.get('a')).toBe(1);
    map.set('d', 4);
    expect(map.peek('a')).toBe(1);
    expect(map.peek('b')).toBeUndefined();
    expect([...map.keys()]).toEqual(['c', 'a', 'd']);
  });

  it('peek does not refresh recency', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    expect(map.peek('a')).toBe(1);
    map.set('d', 4);
    expect(map.peek('a')).toBeUndefined();
  });

  it('overwriting a key updates its value and recency without evicting anything', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    map.set('a', 10);
    expect(map.size).toBe(3);
    expect(map.peek('a')).toBe(10);
    map.set('d', 4);
    expect(map.peek('b')).toBeUndefined();
    expect(map.peek('a')).toBe(10);
  });

  it('get of a missing key returns undefined and adds nothing', () => {
    const map = new LruMap<string, number>(2);
    expect(map.get('nope')).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it('delete reports whether the key was present and frees its slot', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.size).toBe(1);
    map.set('c', 3);
    expect(map.peek('b')).toBe(2);
    expect(map.peek('c')).toBe(3);
  });

  it('clear empties the map', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.clear();
    expect(map.size).toBe(0);
    expect([...map.keys()]).toEqual([]);
    expect(map.get('a')).toBeUndefined();
  });

  it('exposes its capacity', () => {
    expect(new LruMap<string, number>(7).capacity).toBe(7);
  });
});

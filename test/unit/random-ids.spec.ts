import { RandomIds } from '../../src/common/random-ids.js';

describe('RandomIds (connection ids from a pooled CSPRNG buffer)', () => {
  it('gives 16-character base64url ids, all distinct across pool refills', () => {
    const ids = new RandomIds();
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i += 1) {
      const id = ids.next();
      expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(5_000);
  });

  it('does not repeat across instances', () => {
    const a = new RandomIds();
    const b = new RandomIds();
    expect(a.next()).not.toBe(b.next());
  });
});

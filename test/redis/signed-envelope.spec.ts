import { createHmac } from 'node:crypto';
import { EnvelopeSigner, EnvelopeTooLargeError, REPLAY_WINDOW, ReplayGuard } from '../../src/redis/signed-envelope.js';
import { SIGNING_KEY } from './redis-helpers.js';

describe('EnvelopeSigner', () => {
  const msg = { type: 'close', userId: 'u1' };
  const CH = 'rt:bus:control';

  it('refuses a key shorter than 32 bytes, accepts exactly 32', () => {
    expect(() => new EnvelopeSigner('x'.repeat(31))).toThrow(/REDIS_SIGNING_KEY.*32 bytes/);
    expect(() => new EnvelopeSigner(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(() => new EnvelopeSigner('x'.repeat(32))).not.toThrow();
  });

  it('round-trips an envelope {v, node, epoch, seq, ch, ts, msg} in the wire format <base64url hmac>.<json>', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY, { now: () => 1_000_000 });
    const wire = signer.sign('node-a', CH, msg);
    expect(wire).toMatch(/^[A-Za-z0-9_-]{43}\.\{/);
    const verified = signer.verify(wire, CH);
    expect(verified).toEqual({ ok: true, envelope: { v: 2, node: 'node-a', epoch: expect.any(String), seq: 1, ch: CH, ts: 1_000_000, msg } });
  });

  it('R6: numbers envelopes 1, 2, 3… under a random epoch per signer', () => {
    const one = new EnvelopeSigner(SIGNING_KEY);
    const two = new EnvelopeSigner(SIGNING_KEY);
    const body = (wire: string) => JSON.parse(wire.slice(44)) as { epoch: string; seq: number };
    const [a1, a2, b1] = [body(one.sign('n', CH, msg)), body(one.sign('n', 'rt:bus:main', msg)), body(two.sign('n', CH, msg))];
    expect([a1.seq, a2.seq, b1.seq]).toEqual([1, 2, 1]);
    expect(a1.epoch).toBe(a2.epoch);
    expect(a1.epoch).not.toBe(b1.epoch);
  });

  it('R6: an envelope verified on another channel (or under another prefix) than it was signed for is dropped', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const wire = signer.sign('node-a', CH, msg);
    expect(signer.verify(wire, 'rt:bus:main')).toEqual({ ok: false, reason: 'wrong_channel' });
    expect(signer.verify(wire, 'other:bus:control')).toEqual({ ok: false, reason: 'wrong_channel' });
    expect(signer.verify(wire, CH).ok).toBe(true);
  });

  it('R6: the ReplayGuard accepts each (node, epoch, seq) once and only newer ones after it', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const guard = new ReplayGuard(2);
    const [w1, w2] = [signer.sign('a', CH, msg), signer.sign('a', CH, msg)];
    const env = (wire: string) => {
      const verified = signer.verify(wire, CH);
      if (!verified.ok) throw new Error(verified.reason);
      return verified.envelope;
    };
    expect(guard.accept(env(w1))).toBe(true);
    expect(guard.accept(env(w1))).toBe(false);
    expect(guard.accept(env(w2))).toBe(true);
    expect(guard.accept(env(w1))).toBe(false);
    expect(guard.accept(env(w2))).toBe(false);
    // Another node with the same numbers is another sender.
    expect(guard.accept(env(new EnvelopeSigner(SIGNING_KEY).sign('b', CH, msg)))).toBe(true);
  });

  it('R6: the ReplayGuard orders a sender per channel: later envelopes on another channel arriving first do not drop earlier ones', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const guard = new ReplayGuard();
    const other = 'rt:bus:{tracking.7}';
    const env = (wire: string, channel: string) => {
      const verified = signer.verify(wire, channel);
      if (!verified.ok) throw new Error(verified.reason);
      return verified.envelope;
    };
    const [w1, w2, w3] = [signer.sign('a', CH, msg), signer.sign('a', other, msg), signer.sign('a', CH, msg)];
    // A cluster delivers each shard channel over its own connection: seq 2 may come before seq 1.
    expect(guard.accept(env(w2, other))).toBe(true);
    expect(guard.accept(env(w1, CH))).toBe(true);
    expect(guard.accept(env(w3, CH))).toBe(true);
    expect(guard.accept(env(w1, CH))).toBe(false);
    expect(guard.accept(env(w2, other))).toBe(false);
  });

  it(`R6: within a channel the ReplayGuard takes reordered envelopes once each, and refuses what is older than its last ${REPLAY_WINDOW}`, () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const guard = new ReplayGuard();
    const wires = Array.from({ length: REPLAY_WINDOW + 4 }, () => signer.sign('a', CH, msg));
    const env = (wire: string) => {
      const verified = signer.verify(wire, CH);
      if (!verified.ok) throw new Error(verified.reason);
      return verified.envelope;
    };
    // 2 arrives before 1 (a client reordered two commands): both are delivered, each once.
    expect(guard.accept(env(wires[1]!))).toBe(true);
    expect(guard.accept(env(wires[0]!))).toBe(true);
    expect(guard.accept(env(wires[0]!))).toBe(false);
    expect(guard.accept(env(wires[1]!))).toBe(false);
    for (const wire of wires.slice(3)) expect(guard.accept(env(wire))).toBe(true);
    // 3 was never seen, but the window has moved past it: refused rather than risk a replay.
    expect(guard.accept(env(wires[2]!))).toBe(false);
    for (const wire of wires) expect(guard.accept(env(wire))).toBe(false);
  });

  it('R6: an envelope larger than the largest one a node sends is dropped before its HMAC is computed, and never sent', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY, { maxEnvelopeBytes: 1024 });
    expect(() => signer.sign('a', CH, { text: 'x'.repeat(2000) })).toThrow(EnvelopeTooLargeError);
    // Genuine and forged alike answer `oversized`, not `forged`/ok: the size is checked first.
    const big = new EnvelopeSigner(SIGNING_KEY).sign('a', CH, { text: 'x'.repeat(2000) });
    expect(signer.verify(big, CH)).toEqual({ ok: false, reason: 'oversized' });
    expect(signer.verify(`${'A'.repeat(43)}.${'{'.repeat(5000)}`, CH)).toEqual({ ok: false, reason: 'oversized' });
    expect(signer.verify(`${'A'.repeat(43)}.${'{'.repeat(500)}`, CH)).toEqual({ ok: false, reason: 'forged' });
  });

  it('rejects a signature made with another key, and a tampered body, as forged', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const other = new EnvelopeSigner('another key that is long enough!!');
    expect(signer.verify(other.sign('node-x', CH, msg), CH)).toEqual({ ok: false, reason: 'forged' });
    const tampered = signer.sign('node-a', CH, msg).replace('"u1"', '"u2"');
    expect(signer.verify(tampered, CH)).toEqual({ ok: false, reason: 'forged' });
  });

  it('rejects unsigned JSON and malformed wires', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    expect(signer.verify(JSON.stringify({ v: 2, node: 'n', ts: Date.now(), msg }), CH)).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify('no separator at all', CH)).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify('short.{}', CH)).toEqual({ ok: false, reason: 'malformed' });
    expect(signer.verify(`${'!'.repeat(43)}.{}`, CH)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects a correctly signed body that is not an envelope as malformed', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const wire = signer.sign('node-a', CH, msg);
    // Re-sign a non-envelope body with the real key (what a buggy node could send).
    const body = '{"v":1,"node":"n","ts":1,"msg":{}}';
    const mac = wire.slice(0, 43);
    expect(signer.verify(`${mac}.${body}`, CH)).toEqual({ ok: false, reason: 'forged' });
    const hmac = signBody(SIGNING_KEY, body);
    expect(signer.verify(`${hmac}.${body}`, CH)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects envelopes older or newer than the allowed skew as stale', () => {
    let now = 1_000_000;
    const signer = new EnvelopeSigner(SIGNING_KEY, { now: () => now, maxSkewMs: 30_000 });
    const wire = signer.sign('node-a', CH, msg);
    now += 30_000;
    expect(signer.verify(wire, CH).ok).toBe(true);
    now += 1;
    expect(signer.verify(wire, CH)).toEqual({ ok: false, reason: 'stale' });
    now = 1_000_000 - 30_001;
    expect(signer.verify(wire, CH)).toEqual({ ok: false, reason: 'stale' });
  });
});

function signBody(key: string, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}

import { createHmac } from 'node:crypto';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import { SIGNING_KEY } from './redis-helpers.js';

describe('EnvelopeSigner', () => {
  const msg = { type: 'close', userId: 'u1' };

  it('refuses a key shorter than 32 bytes, accepts exactly 32', () => {
    expect(() => new EnvelopeSigner('x'.repeat(31))).toThrow(/REDIS_SIGNING_KEY.*32 bytes/);
    expect(() => new EnvelopeSigner(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(() => new EnvelopeSigner('x'.repeat(32))).not.toThrow();
  });

  it('round-trips an envelope {v, node, ts, msg} in the wire format <base64url hmac>.<json>', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY, { now: () => 1_000_000 });
    const wire = signer.sign('node-a', msg);
    expect(wire).toMatch(/^[A-Za-z0-9_-]{43}\.\{/);
    expect(signer.verify(wire)).toEqual({ ok: true, envelope: { v: 1, node: 'node-a', ts: 1_000_000, msg } });
  });

  it('rejects a signature made with another key, and a tampered body, as forged', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const other = new EnvelopeSigner('another key that is long enough!!');
    expect(signer.verify(other.sign('node-x', msg))).toEqual({ ok: false, reason: 'forged' });
    const tampered = signer.sign('node-a', msg).replace('"u1"', '"u2"');
    expect(signer.verify(tampered)).toEqual({ ok: false, reason: 'forged' });
  });

  it('rejects unsigned JSON and malformed wires', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    expect(signer.verify(JSON.stringify({ v: 1, node: 'n', ts: Date.now(), msg }))).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify('no separator at all')).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify('short.{}')).toEqual({ ok: false, reason: 'malformed' });
    expect(signer.verify(`${'!'.repeat(43)}.{}`)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects a correctly signed body that is not an envelope as malformed', () => {
    const signer = new EnvelopeSigner(SIGNING_KEY);
    const wire = signer.sign('node-a', msg);
    // Re-sign a non-envelope body with the real key (what a buggy node could send).
    const body = '{"v":2,"node":"n","ts":1,"msg":{}}';
    const mac = wire.slice(0, 43);
    expect(signer.verify(`${mac}.${body}`)).toEqual({ ok: false, reason: 'forged' });
    const hmac = signBody(SIGNING_KEY, body);
    expect(signer.verify(`${hmac}.${body}`)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects envelopes older or newer than the allowed skew as stale', () => {
    let now = 1_000_000;
    const signer = new EnvelopeSigner(SIGNING_KEY, { now: () => now, maxSkewMs: 30_000 });
    const wire = signer.sign('node-a', msg);
    now += 30_000;
    expect(signer.verify(wire).ok).toBe(true);
    now += 1;
    expect(signer.verify(wire)).toEqual({ ok: false, reason: 'stale' });
    now = 1_000_000 - 30_001;
    expect(signer.verify(wire)).toEqual({ ok: false, reason: 'stale' });
  });
});

function signBody(key: string, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}

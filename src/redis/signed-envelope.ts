import { createHmac, timingSafeEqual } from 'node:crypto';

/** What travels between nodes: who sent it, when, and the payload. */
export interface Envelope {
  readonly v: 1;
  readonly node: string;
  /** Sender's clock, epoch ms. */
  readonly ts: number;
  readonly msg: unknown;
}

/** Why a received envelope was dropped (a metric label). */
export type EnvelopeRejection = 'unsigned' | 'malformed' | 'forged' | 'stale';

export type VerifyResult =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly reason: EnvelopeRejection };

export interface EnvelopeSignerOptions {
  /** Envelopes whose `ts` is further than this from our clock are dropped (default 30 s). */
  readonly maxSkewMs?: number;
  readonly now?: () => number;
}

export const MIN_SIGNING_KEY_BYTES = 32;
const DEFAULT_MAX_SKEW_MS = 30_000;
/** base64url of a 32-byte HMAC-SHA256, unpadded. */
const SIGNATURE_CHARS = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Signs and verifies inter-node messages with HMAC-SHA256 (REDIS_SIGNING_KEY), so that
 * anyone who can PUBLISH on our Redis still cannot inject frames or force disconnects.
 *
 * Wire format: `<base64url hmac>.<json envelope>`; the HMAC covers the JSON bytes exactly
 * as sent, so the envelope is serialised once and never re-encoded for verification.
 */
export class EnvelopeSigner {
  private readonly key: Buffer;
  private readonly maxSkewMs: number;
  private readonly now: () => number;

  constructor(key: string | Buffer, options: EnvelopeSignerOptions = {}) {
    this.key = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    if (this.key.length < MIN_SIGNING_KEY_BYTES) {
      throw new Error(`REDIS_SIGNING_KEY must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
    }
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    this.now = options.now ?? Date.now;
  }

  sign(node: string, msg: unknown): string {
    const envelope: Envelope = { v: 1, node, ts: this.now(), msg };
    const json = JSON.stringify(envelope);
    return `${this.mac(json).toString('base64url')}.${json}`;
  }

  verify(wire: string): VerifyResult {
    const dot = wire.indexOf('.');
    if (dot < 0 || wire.startsWith('{')) return reject('unsigned');
    const signature = wire.slice(0, dot);
    if (signature.length !== SIGNATURE_CHARS || !BASE64URL.test(signature)) return reject('malformed');
    const json = wire.slice(dot + 1);
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(json);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reject('forged');
    const envelope = parseEnvelope(json);
    if (!envelope) return reject('malformed');
    if (Math.abs(this.now() - envelope.ts) > this.maxSkewMs) return reject('stale');
    return { ok: true, envelope };
  }

  private mac(json: string): Buffer {
    return createHmac('sha256', this.key).update(json, 'utf8').digest();
  }
}

function reject(reason: EnvelopeRejection): VerifyResult {
  return { ok: false, reason };
}

function parseEnvelope(json: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Record<string, unknown>;
  if (candidate['v'] !== 1 || typeof candidate['node'] !== 'string' || !Number.isFinite(candidate['ts'])) return undefined;
  if (!('msg' in candidate)) return undefined;
  return candidate as unknown as Envelope;
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LruMap } from '../common/lru-map.js';

/**
 * What travels between nodes: who sent it (node, and its random epoch for this process
 * run), its place in the sender's sequence, the channel it was published on (key prefix
 * included), when, and the payload. Every field is inside the signed bytes.
 */
export interface Envelope {
  readonly v: 2;
  readonly node: string;
  readonly epoch: string;
  /** Strictly increasing per (node, epoch), over all channels. */
  readonly seq: number;
  /** The full channel name, prefix included: a copy published elsewhere does not verify. */
  readonly ch: string;
  /** Sender's clock, epoch ms. */
  readonly ts: number;
  readonly msg: unknown;
}

/** Why a received envelope was dropped (a metric label). */
export type EnvelopeRejection = 'unsigned' | 'malformed' | 'forged' | 'stale' | 'oversized' | 'wrong_channel' | 'replayed';

export type VerifyResult =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly reason: EnvelopeRejection };

export interface EnvelopeSignerOptions {
  /** Envelopes whose `ts` is further than this from our clock are dropped (default 30 s). */
  readonly maxSkewMs?: number;
  /** The largest envelope this node sends, and so accepts, in bytes (default 1 MiB). */
  readonly maxEnvelopeBytes?: number;
  readonly now?: () => number;
}

export const MIN_SIGNING_KEY_BYTES = 32;
const DEFAULT_MAX_SKEW_MS = 30_000;
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024;
/** (sender, channel) pairs a ReplayGuard remembers: ~400 channels per deployment × 40 node runs. */
export const DEFAULT_MAX_REPLAY_ENTRIES = 16_384;
/** Sequence numbers a ReplayGuard keeps per (sender, channel): how far a channel's envelopes may be reordered. */
export const REPLAY_WINDOW = 32;
/** base64url of a 32-byte HMAC-SHA256, unpadded. */
const SIGNATURE_CHARS = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** This node cannot send `bytes`: no receiver would accept it. */
export class EnvelopeTooLargeError extends RangeError {
  override name = 'EnvelopeTooLargeError';
}

/**
 * Signs and verifies inter-node messages with HMAC-SHA256 (REDIS_SIGNING_KEY), so that
 * anyone who can PUBLISH on our Redis still cannot inject frames or force disconnects, nor
 * replay what they captured (finding R6, docs/protocol.md §9: at most once per receiver).
 *
 * Wire format: `<base64url hmac>.<json envelope>`; the HMAC covers the JSON bytes exactly
 * as sent, so the envelope is serialised once and never re-encoded for verification.
 *
 * Replay: each signer draws a random epoch at construction and numbers its envelopes
 * 1, 2, 3…; each receiver runs a ReplayGuard over what verifies.
 */
export class EnvelopeSigner {
  private readonly key: Buffer;
  private readonly maxSkewMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly epoch = randomBytes(12).toString('base64url');
  private seq = 0;

  constructor(key: string | Buffer, options: EnvelopeSignerOptions = {}) {
    this.key = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    if (this.key.length < MIN_SIGNING_KEY_BYTES) {
      throw new Error(`REDIS_SIGNING_KEY must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
    }
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    this.maxBytes = options.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
    this.now = options.now ?? Date.now;
  }

  /** Throws EnvelopeTooLargeError past `maxEnvelopeBytes` (nothing is consumed from the sequence then). */
  sign(node: string, channel: string, msg: unknown): string {
    const envelope: Envelope = { v: 2, node, epoch: this.epoch, seq: this.seq + 1, ch: channel, ts: this.now(), msg };
    const json = JSON.stringify(envelope);
    const wire = `${this.mac(json).toString('base64url')}.${json}`;
    const bytes = Buffer.byteLength(wire, 'utf8');
    if (bytes > this.maxBytes) throw new EnvelopeTooLargeError(`inter-node envelope of ${bytes} bytes exceeds ${this.maxBytes}`);
    this.seq += 1;
    return wire;
  }

  /** Checks, cheapest first: size, signature, shape, channel, age. Replays are the ReplayGuard's. */
  verify(wire: string, channel: string): VerifyResult {
    if (Buffer.byteLength(wire, 'utf8') > this.maxBytes) return reject('oversized');
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
    if (envelope.ch !== channel) return reject('wrong_channel');
    if (Math.abs(this.now() - envelope.ts) > this.maxSkewMs) return reject('stale');
    return { ok: true, envelope };
  }

  private mac(json: string): Buffer {
    return createHmac('sha256', this.key).update(json, 'utf8').digest();
  }
}

/**
 * One receiver's memory of the envelopes seen per sender (node, epoch) and channel: an
 * envelope whose sequence number was seen is a replay. Per channel, because on a Redis
 * Cluster each shard channel reaches us over the connection to its own master, so there is
 * no order across channels. Within a channel Redis keeps one connection's order, but a
 * client may still reorder a few commands around a reconnect, so the guard keeps the last
 * `REPLAY_WINDOW` numbers accepted per channel: one of them, or anything older than all of
 * them, is refused; anything else is new. An LRU of `maxEntries` (sender, channel) pairs:
 * one is forgotten only after that many others were seen since it last sent, and an
 * envelope that old is past the skew window anyway (dropped as stale).
 */
export class ReplayGuard {
  private readonly seen: LruMap<string, number[]>;

  constructor(maxEntries = DEFAULT_MAX_REPLAY_ENTRIES) {
    this.seen = new LruMap(maxEntries);
  }

  /** True, and remembered, when `envelope` was not seen before from its sender on its channel. */
  accept(envelope: Envelope): boolean {
    const key = `${envelope.node}\u0000${envelope.epoch}\u0000${envelope.ch}`;
    const window = this.seen.get(key);
    if (window === undefined) {
      this.seen.set(key, [envelope.seq]);
      return true;
    }
    // ascending; full means everything below its first entry counts as seen
    if (window.length >= REPLAY_WINDOW && envelope.seq <= window[0]!) return false;
    let at = window.length;
    while (at > 0 && window[at - 1]! > envelope.seq) at -= 1;
    if (at > 0 && window[at - 1] === envelope.seq) return false;
    window.splice(at, 0, envelope.seq);
    if (window.length > REPLAY_WINDOW) window.shift();
    return true;
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
  const c = value as Record<string, unknown>;
  if (c['v'] !== 2 || typeof c['node'] !== 'string' || typeof c['epoch'] !== 'string' || typeof c['ch'] !== 'string') return undefined;
  if (!Number.isSafeInteger(c['seq']) || (c['seq'] as number) < 1 || !Number.isFinite(c['ts'])) return undefined;
  if (!('msg' in c)) return undefined;
  return c as unknown as Envelope;
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { RandomIds } from '../common/random-ids.js';
import {
  assertStreamName,
  decideRecovery,
  type Recovery,
  type RecoveryBounds,
  type RecoveryHistory,
  type Relay,
  RECOVERY_MAX_DATA_BYTES,
  RECOVERY_MAX_PUBLICATIONS,
  type StreamPosition,
} from '../recovery/recovery-history.js';
import { LuaScript } from './lua-script.js';
import type { RedisClient } from './redis-client-factory.js';

/**
 * Recovery history shared by every node (docs/protocol.md §10), on a standalone Redis or a
 * Redis Cluster. Per stream, two keys in one hash slot (`{…}` hash tag):
 *   `<prefix>rh:{<tag>}…:m`  hash  e = epoch, o = offset of the last push, b = bytes in the list
 *   `<prefix>rh:{<tag>}…:l`  list  the retained `data`, oldest at the head; the newest has offset o
 * Every write is one Lua script, so offsets are assigned atomically across nodes, the history
 * never disagrees with the counter, and (with a relay) the cross-node message leaves Redis in
 * offset order: one round trip per publish, nothing two nodes could interleave.
 *
 * Retention: the newest `size` pushes and at most one answer's worth of bytes (512 KiB);
 * both keys expire `ttlMs` after the last push (PEXPIRE on every append). When they have
 * expired the next touch writes a new epoch (drawn by the caller, since scripts must not
 * be random) and offsets start again at 1. Redis bounds the number of streams by their TTL
 * and its own maxmemory; RECOVERY_MAX_STREAMS is the in-memory store's bound.
 */

export interface RedisRecoveryHistoryOptions {
  readonly client: RedisClient;
  /** Prepended to every key. A `{` in it pins every key to one slot; leave braces out on a cluster. */
  readonly keyPrefix: string;
  readonly bounds: Pick<RecoveryBounds, 'size' | 'ttlMs'>;
  /**
   * The hash tag of a stream's keys (default: the stream itself). The publish path passes the
   * stream's shard so its keys share the slot of the shard channel the script SPUBLISHes to.
   */
  readonly slotTag?: (stream: string) => string;
  /** What the append script relays with: PUBLISH (standalone) or SPUBLISH (cluster, channel in the stream's slot). */
  readonly publishCommand?: 'publish' | 'spublish';
  /**
   * HMAC key (REDIS_SIGNING_KEY): each retained entry is stored as `<HMAC(stream, data)>.<data>`
   * and checked on recovery, so whoever can write to Redis cannot make this node hand
   * forged history to clients (like the signed inter-node envelopes). Unset: stored as is.
   */
  readonly signingKey?: string;
}

/** base64url HMAC-SHA256 plus the dot: what a seal adds to each stored entry. */
const SEAL_BYTES = 44;

export type { Relay };

/** Splits a relayed `<offset>:<epoch>:<message>`; undefined when it is not one. */
export function parseRelayed(text: string): { position: StreamPosition; message: string } | undefined {
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  if (second < 0) return undefined;
  const offset = Number(text.slice(0, first));
  const epoch = text.slice(first + 1, second);
  if (!Number.isSafeInteger(offset) || offset < 1 || epoch.length === 0 || epoch.length > 64) return undefined;
  return { position: { offset, epoch }, message: text.slice(second + 1) };
}

/**
 * KEYS[1] meta, KEYS[2] list. ARGV: data, new epoch (used when the stream has none), size,
 * ttlMs, max bytes kept, relay channel ('' for none), relay message, publish command.
 * Returns {offset, epoch}.
 */
const APPEND = new LuaScript(`
local meta = redis.call('HMGET', KEYS[1], 'e', 'o', 'b')
local epoch, offset, bytes = meta[1], tonumber(meta[2]), tonumber(meta[3])
if not epoch then
  epoch, offset, bytes = ARGV[2], 0, 0
  redis.call('DEL', KEYS[2])
end
offset = offset + 1
local len = redis.call('RPUSH', KEYS[2], ARGV[1])
bytes = bytes + #ARGV[1]
local size, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[5])
while len > 0 and (len > size or bytes > maxBytes) do
  bytes = bytes - #redis.call('LPOP', KEYS[2])
  len = len - 1
end
redis.call('HSET', KEYS[1], 'e', epoch, 'o', offset, 'b', bytes)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if len > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
if ARGV[6] ~= '' then redis.call(ARGV[8], ARGV[6], offset .. ':' .. epoch .. ':' .. ARGV[7]) end
return {offset, epoch}
`);

/**
 * KEYS[1] meta, KEYS[2] list. ARGV: new epoch, ttlMs, since epoch, since offset, max items.
 * Returns {offset, epoch, data…}: the newest min(missed, retained) entries when `since` is in
 * this epoch and at most max items behind, else none. A stream without an epoch gets one
 * (offset 0, expiring after ttlMs unless pushed to) so that its first push continues it.
 */
const READ = new LuaScript(`
local meta = redis.call('HMGET', KEYS[1], 'e', 'o')
local epoch, offset = meta[1], tonumber(meta[2])
if not epoch then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0, 'b', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0, ARGV[1]}
end
local missed = offset - tonumber(ARGV[4])
if ARGV[3] ~= epoch or missed <= 0 or missed > tonumber(ARGV[5]) then return {offset, epoch} end
local entries = redis.call('LRANGE', KEYS[2], -missed, -1)
table.insert(entries, 1, epoch)
table.insert(entries, 1, offset)
return entries
`);

export class RedisRecoveryHistory implements RecoveryHistory {
  private readonly ids = new RandomIds();
  private readonly publishCommand: 'publish' | 'spublish';
  private readonly key?: Buffer;
  /** Bytes the script keeps per stream: one answer's data plus the seals of its entries. */
  private readonly maxStoredBytes: number;
  private forgedEntries = 0;

  constructor(private readonly options: RedisRecoveryHistoryOptions) {
    this.publishCommand = options.publishCommand ?? 'publish';
    if (options.signingKey !== undefined) {
      if (Buffer.byteLength(options.signingKey) < 32) throw new RangeError('recovery history signing key must be at least 32 bytes');
      this.key = Buffer.from(options.signingKey, 'utf8');
    }
    this.maxStoredBytes = RECOVERY_MAX_DATA_BYTES + (this.key ? SEAL_BYTES * Math.min(options.bounds.size, RECOVERY_MAX_PUBLICATIONS) : 0);
  }

  /** Retained entries whose seal did not match (each refused a recovery). */
  stats(): { forgedEntries: number } {
    return { forgedEntries: this.forgedEntries };
  }

  /**
   * Assigns the next offset, retains `data`, refreshes the TTL and, with `relay`, publishes
   * `<offset>:<epoch>:<relay.message>` to `relay.channel`, all in one script.
   */
  async append(stream: string, data: string, relay?: Relay): Promise<StreamPosition> {
    const { meta, list } = this.keysOf(stream);
    const { size, ttlMs } = this.options.bounds;
    const reply = await APPEND.run(this.options.client, [meta, list], [
      this.key ? `${this.seal(stream, data)}.${data}` : data,
      this.ids.next(),
      size,
      ttlMs,
      this.maxStoredBytes,
      relay?.channel ?? '',
      relay?.message ?? '',
      this.publishCommand,
    ]);
    return toPosition(reply);
  }

  async position(stream: string): Promise<StreamPosition> {
    return (await this.read(stream, { offset: 0, epoch: '' })).position;
  }

  async recover(stream: string, since: StreamPosition): Promise<Recovery> {
    const valid = Number.isSafeInteger(since.offset) && since.offset >= 0;
    const { position, retained } = await this.read(stream, valid ? since : { offset: 0, epoch: '' });
    if (!this.key) return decideRecovery(position, retained, since);
    const opened: string[] = [];
    for (const entry of retained) {
      const data = this.open(stream, entry);
      if (data === undefined) {
        this.forgedEntries += 1;
        return { recovered: false, position, publications: [] };
      }
      opened.push(data);
    }
    return decideRecovery(position, opened, since);
  }

  /** The stream's two keys; both carry the same `{…}` hash tag. */
  keysOf(stream: string): { meta: string; list: string } {
    assertStreamName(stream);
    const name = escapeBraces(stream);
    const tag = this.options.slotTag ? `{${escapeBraces(this.options.slotTag(stream))}}${name}` : `{${name}}`;
    const base = `${this.options.keyPrefix}rh:${tag}`;
    return { meta: `${base}:m`, list: `${base}:l` };
  }

  private seal(stream: string, data: string): string {
    return createHmac('sha256', this.key!).update(stream).update('\n').update(data).digest('base64url');
  }

  private open(stream: string, entry: string): string | undefined {
    const dot = SEAL_BYTES - 1;
    if (entry.length < SEAL_BYTES || entry[dot] !== '.') return undefined;
    const data = entry.slice(SEAL_BYTES);
    const given = Buffer.from(entry.slice(0, dot));
    const expected = Buffer.from(this.seal(stream, data));
    return given.length === expected.length && timingSafeEqual(given, expected) ? data : undefined;
  }

  private async read(stream: string, since: StreamPosition): Promise<{ position: StreamPosition; retained: string[] }> {
    const { meta, list } = this.keysOf(stream);
    const reply = await READ.run(this.options.client, [meta, list], [
      this.ids.next(),
      this.options.bounds.ttlMs,
      since.epoch,
      since.offset,
      RECOVERY_MAX_PUBLICATIONS,
    ]);
    const position = toPosition(reply);
    const retained = (reply as unknown[]).slice(2).map(String);
    return { position, retained };
  }
}

function toPosition(reply: unknown): StreamPosition {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'string') {
    throw new Error('unexpected reply from the recovery history script');
  }
  return { offset: reply[0], epoch: reply[1] };
}

/** Stream names may contain braces; escaped, they cannot end the hash tag early or empty it. */
function escapeBraces(name: string): string {
  return name.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

import { LruMap } from '../common/lru-map.js';
import { RandomIds } from '../common/random-ids.js';

/**
 * Offsets, epochs and retained pushes of the recoverable streams (docs/protocol.md §10).
 * A stream is one topic of a recoverable namespace, named `<namespace>:<topic>`
 * (`tracking:SHP-1`, `projects:42`, `notifications:<userId>`; see `recoveryStream`).
 */

/** Where a stream stands: the offset of its last push (0 before the first) in its current epoch. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** One retained push: its offset and its `data` as the JSON text that was pushed. */
export interface Publication {
  readonly offset: number;
  readonly data: string;
}

/**
 * A recovery answer. `position` is read together with `publications`: when recovered, the last
 * publication (if any) has `position.offset`, and the live pushes continue at `position.offset + 1`.
 */
export type Recovery =
  | { readonly recovered: true; readonly position: StreamPosition; readonly publications: readonly Publication[] }
  | { readonly recovered: false; readonly position: StreamPosition; readonly publications: readonly [] };

/**
 * A message the store publishes to a channel right after assigning the offset, as
 * `<offset>:<epoch>:<message>`, in the same atomic step (Redis: the inter-node envelope
 * of the push, so every node gets it in offset order). The in-memory store has no other
 * node to tell and ignores it.
 */
export interface Relay {
  readonly channel: string;
  readonly message: string;
}

/**
 * Replace it through `RECOVERY_HISTORY` (the Redis version shares offsets and history between
 * nodes). `data` is the push's `data` serialised once as JSON: the same text goes into the
 * frame, the history and the recovery answer, and the 512 KiB bound counts its UTF-8 bytes.
 */
export interface RecoveryHistory {
  /**
   * Assigns the stream's next offset (exactly one per publish) and retains `data`. A store that
   * decides in the caller's turn (the in-memory one) returns the position itself, so a push on
   * one node is delivered without a round through the microtask queue.
   */
  append(stream: string, data: string, relay?: Relay): StreamPosition | Promise<StreamPosition>;
  /** The current position; a stream without history gets its epoch here (offset 0), kept for later pushes. */
  position(stream: string): Promise<StreamPosition>;
  /** The pushes after `since`, or `recovered: false` for every case of docs/protocol.md §10. */
  recover(stream: string, since: StreamPosition): Promise<Recovery>;
}

export const RECOVERY_HISTORY = Symbol('RECOVERY_HISTORY');

/** One recovery answer carries at most this many publications … (docs/protocol.md §10) */
export const RECOVERY_MAX_PUBLICATIONS = 100;
/** … and at most this many bytes of their `data` in total. */
export const RECOVERY_MAX_DATA_BYTES = 512 * 1024;
/** Stream names are built from validated ids; anything longer is a caller bug, refused before it is stored. */
export const MAX_STREAM_NAME_BYTES = 256;

export interface RecoveryBounds {
  /** Pushes kept per stream (RECOVERY_HISTORY_SIZE). */
  readonly size: number;
  /** A stream's history is lost this long after its last push (RECOVERY_HISTORY_TTL_MS). */
  readonly ttlMs: number;
  /** Streams with history on this node; the least recently published is evicted (RECOVERY_MAX_STREAMS). */
  readonly maxStreams: number;
  /** Bytes of retained `data` (plus stream names) on this node; least recently published evicted past it (finding 24). */
  readonly maxBytes: number;
}

/** The stream of one topic of a recoverable namespace. */
export function recoveryStream(namespace: string, topic: string): string {
  return `${namespace}:${topic}`;
}

/** `recoveryStream` read back: `tracking:SHP-1` → ['tracking', 'SHP-1'] (namespace names have no colon; topics may). */
export function streamParts(stream: string): [namespace: string, topic: string] {
  const colon = stream.indexOf(':');
  return [stream.slice(0, colon), stream.slice(colon + 1)];
}

/** Checks a stream name (throws RangeError); shared by both stores so they refuse the same names. */
export function assertStreamName(stream: string): void {
  if (stream.length === 0 || Buffer.byteLength(stream, 'utf8') > MAX_STREAM_NAME_BYTES) {
    throw new RangeError(`recovery stream name must be 1–${MAX_STREAM_NAME_BYTES} bytes`);
  }
}

/**
 * The §10 decision on a consistent snapshot of a stream: its position and its retained pushes
 * (`retained[i]` has offset `position.offset - retained.length + 1 + i`). Both stores call it
 * (the Redis script mirrors it in Lua), so there is one reading of the rules.
 */
export function decideRecovery(position: StreamPosition, retained: readonly string[], since: StreamPosition): Recovery {
  const refused: Recovery = { recovered: false, position, publications: [] };
  if (since.epoch !== position.epoch || !Number.isSafeInteger(since.offset) || since.offset < 0) return refused;
  if (since.offset > position.offset) return refused; // ahead of the stream
  const missed = position.offset - since.offset;
  if (missed === 0) return { recovered: true, position, publications: [] };
  if (missed > RECOVERY_MAX_PUBLICATIONS || missed > retained.length) return refused; // too many, or no longer retained
  const first = position.offset - missed + 1;
  const publications: Publication[] = [];
  let bytes = 0;
  for (let i = retained.length - missed; i < retained.length; i += 1) {
    const data = retained[i]!;
    bytes += Buffer.byteLength(data, 'utf8');
    if (bytes > RECOVERY_MAX_DATA_BYTES) return refused; // too large
    publications.push({ offset: first + publications.length, data });
  }
  return { recovered: true, position, publications };
}

interface StreamHistory {
  readonly epoch: string;
  offset: number;
  /** Data of offsets `offset - data.length + 1 … offset`, oldest first, and their byte sizes. */
  readonly data: string[];
  readonly sizes: number[];
  dataBytes: number;
  /** Counted against `maxBytes` with the data. */
  readonly nameBytes: number;
  lastPushAt: number;
}

/** An epoch handed out for a stream without pushes, so the first push continues it. */
interface EmptyStream {
  readonly epoch: string;
  readonly createdAt: number;
}

/**
 * Single-node history, bounded by count and bytes per stream, TTL after the last push, a cap
 * on streams with history (least recently published evicted) and a cap on bytes in total.
 *
 * Streams that were only read (a subscribe before any push) keep their epoch in a separate
 * LRU of the same capacity, so subscribes to many unknown topics (client input) can never
 * evict published history. Losing a stream in any way (TTL, eviction, restart) loses its
 * epoch: the next touch draws a new random one and offsets start again at 1.
 * Expired streams are dropped when touched, and by `sweep()` (run it from a timer).
 */
export class InMemoryRecoveryHistory implements RecoveryHistory {
  private readonly streams: LruMap<string, StreamHistory>;
  private readonly empty: LruMap<string, EmptyStream>;
  private readonly ids = new RandomIds();
  private totalBytes = 0;

  constructor(
    private readonly bounds: RecoveryBounds,
    private readonly now: () => number = Date.now,
  ) {
    this.streams = new LruMap(bounds.maxStreams);
    this.empty = new LruMap(bounds.maxStreams);
  }

  append(stream: string, data: string): StreamPosition {
    assertStreamName(stream);
    const now = this.now();
    let history = this.live(stream, now);
    if (history) {
      this.streams.get(stream); // most recently published
    } else {
      const epoch = this.liveEmpty(stream, now)?.epoch ?? this.ids.next();
      this.empty.delete(stream);
      if (this.streams.size >= this.bounds.maxStreams) this.evictOldest();
      history = { epoch, offset: 0, data: [], sizes: [], dataBytes: 0, nameBytes: Buffer.byteLength(stream, 'utf8'), lastPushAt: now };
      this.totalBytes += history.nameBytes;
      this.streams.set(stream, history);
    }
    history.offset += 1;
    history.lastPushAt = now;
    const size = Buffer.byteLength(data, 'utf8');
    history.data.push(data);
    history.sizes.push(size);
    history.dataBytes += size;
    this.totalBytes += size;
    this.trim(history);
    while (this.totalBytes > this.bounds.maxBytes && this.streams.size > 1) this.evictOldest();
    return { offset: history.offset, epoch: history.epoch };
  }

  async position(stream: string): Promise<StreamPosition> {
    assertStreamName(stream);
    return this.snapshot(stream, this.now()).position;
  }

  async recover(stream: string, since: StreamPosition): Promise<Recovery> {
    assertStreamName(stream);
    const { position, retained } = this.snapshot(stream, this.now());
    return decideRecovery(position, retained, since);
  }

  /** Drops every stream (and remembered empty epoch) past its TTL. */
  sweep(): void {
    const now = this.now();
    for (const stream of [...this.streams.keys()]) this.live(stream, now);
    for (const stream of [...this.empty.keys()]) this.liveEmpty(stream, now);
  }

  sizes(): { streams: number; emptyStreams: number; bytes: number } {
    return { streams: this.streams.size, emptyStreams: this.empty.size, bytes: this.totalBytes };
  }

  private snapshot(stream: string, now: number): { position: StreamPosition; retained: readonly string[] } {
    const history = this.live(stream, now);
    if (history) return { position: { offset: history.offset, epoch: history.epoch }, retained: history.data };
    let empty = this.liveEmpty(stream, now);
    if (!empty) {
      empty = { epoch: this.ids.next(), createdAt: now };
      this.empty.set(stream, empty);
    }
    return { position: { offset: 0, epoch: empty.epoch }, retained: [] };
  }

  /** The stream's history unless expired (then it is dropped). Does not count as a publish. */
  private live(stream: string, now: number): StreamHistory | undefined {
    const history = this.streams.peek(stream);
    if (history && now - history.lastPushAt >= this.bounds.ttlMs) {
      this.drop(stream, history);
      return undefined;
    }
    return history;
  }

  private liveEmpty(stream: string, now: number): EmptyStream | undefined {
    const empty = this.empty.peek(stream);
    if (empty && now - empty.createdAt >= this.bounds.ttlMs) {
      this.empty.delete(stream);
      return undefined;
    }
    return empty;
  }

  /**
   * Keeps the newest `size` pushes, and no more bytes than one recovery answer may carry:
   * an older push could only be sent together with all newer ones, which would exceed it.
   */
  private trim(history: StreamHistory): void {
    const byteLimit = Math.min(RECOVERY_MAX_DATA_BYTES, this.bounds.maxBytes - history.nameBytes);
    while (history.data.length > 0 && (history.data.length > this.bounds.size || history.dataBytes > byteLimit)) {
      history.data.shift();
      const size = history.sizes.shift()!;
      history.dataBytes -= size;
      this.totalBytes -= size;
    }
  }

  private evictOldest(): void {
    const oldest = this.streams.keys().next();
    if (oldest.done) return;
    const history = this.streams.peek(oldest.value);
    if (history) this.drop(oldest.value, history);
  }

  private drop(stream: string, history: StreamHistory): void {
    this.streams.delete(stream);
    this.totalBytes -= history.nameBytes + history.dataBytes;
  }
}

/**
 * Helpers for the "proof of safety" suites (security-attacks, fuzz, soak, faults): the
 * contract's closed code sets, raw WebSocket framing over a plain TCP socket (for frames
 * the `ws` client refuses to send), unfinished upgrades (slowloris), and a ping barrier
 * that tells when the server has processed everything sent before it.
 * Pure test-side code: nothing here imports Nest or src/.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { type Client, eventually, type Frame, sleep } from './harness.js';

/** docs/protocol.md §3: the only codes an `error` envelope may carry. */
export const ERROR_CODES: ReadonlySet<string> = new Set([
  'INVALID_JSON',
  'INVALID_MESSAGE',
  'UNKNOWN_EVENT',
  'VALIDATION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'INTERNAL_ERROR',
]);

/** Close codes a misbehaving client may be given (§3): too big, invalid frames, unauthorized, rate abuse. */
export const DOCUMENTED_CLOSE_CODES: ReadonlySet<number> = new Set([1009, 4400, 4401, 4429]);

export const ALL_PATHS = ['/ws/main', '/ws/tracking', '/ws/notifications', '/ws/projects', '/ws/collaboration', '/ws/commodity', '/ws/activity', '/ws/mololink'] as const;
export type WsPath = (typeof ALL_PATHS)[number];
export const AUTH_REQUIRED_PATHS: readonly WsPath[] = ['/ws/notifications', '/ws/projects', '/ws/collaboration', '/ws/commodity', '/ws/activity', '/ws/mololink'];

/** True when `frame` is an error envelope whose code is in the closed set. */
export const isClosedSetError = (frame: Frame): boolean => frame.event === 'error' && frame.type === 'error' && ERROR_CODES.has(String(frame.code));

let barrierSeq = 0;

/**
 * Returns once the server has handled every frame sent on `client` before this call, and
 * their answers have reached the client: two `ping` round trips. Frames arriving in one TCP
 * chunk may be answered out of order, but by the time the second ping is even read by the
 * server every earlier frame has been answered. Throws if the connection closes meanwhile.
 */
export async function barrier(client: Client, timeoutMs = 5000): Promise<void> {
  for (let i = 0; i < 2; i += 1) {
    barrierSeq += 1;
    const id = `barrier-${barrierSeq}`;
    client.send({ event: 'ping', data: {}, id });
    await client.next((f) => f.id === id && f.event === 'pong', timeoutMs);
  }
}

/** Sends a raw text frame, waits for the barrier, and returns what answered it (matched by id). */
export async function answersTo(client: Client, text: string, id: string | number): Promise<Frame[]> {
  const from = client.frames.length;
  client.send(text);
  await barrier(client);
  return client.frames.slice(from).filter((f) => f.id === id);
}

/** `{"<key>":<valueJson>, ...base}` as JSON text: a key a JS object literal could not hold as data (e.g. `__proto__`). */
export function withRawKey(base: Record<string, unknown>, key: string, valueJson: string): string {
  const rest = JSON.stringify(base).slice(1);
  return `{${key}:${valueJson}${rest === '}' ? '}' : `,${rest}`}`;
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket framing over TCP
// ---------------------------------------------------------------------------------------------

export interface RawFrameOptions {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** 1 text, 2 binary, 0 continuation, 8 close, 9 ping. */
  opcode?: number;
  /** Announce this payload length in the header instead of the real one (the payload is still what is given). */
  announcedLength?: number;
}

/** A client-to-server frame (masked, as RFC 6455 requires of clients). */
export function encodeClientFrame(payload: Buffer, options: RawFrameOptions = {}): Buffer {
  const { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, opcode = 1 } = options;
  const length = options.announcedLength ?? payload.length;
  const first = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f);
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, 0x80 | length]);
  } else if (length < 65536) {
    header = Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff]);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i += 1) masked[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** A WebSocket opened by hand on a TCP socket: what the server sent, and how it ended. */
export interface RawWebSocket {
  readonly socket: Socket;
  readonly status: number;
  readonly responseHead: string;
  readonly frames: ServerFrame[];
  /** Text of the text frames received. */
  texts(): string[];
  /** The close code of the server's close frame, once one arrived. */
  closeCode(): number | undefined;
  /** Resolves when the TCP socket has closed (the server ended or destroyed it). */
  readonly ended: Promise<void>;
  write(data: Buffer): void;
  destroy(): void;
}

/** Performs the HTTP upgrade by hand and parses the server's (unmasked) frames. */
export function rawWebSocket(port: number, path: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let head: string | undefined;
    const frames: ServerFrame[] = [];
    let ended!: () => void;
    const endedPromise = new Promise<void>((r) => (ended = r));
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extra}\r\n`,
      );
    });
    const parse = (): void => {
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0]! & 0x0f;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        frames.push({ opcode, payload: buffer.subarray(offset, offset + length) });
        buffer = buffer.subarray(offset + length);
      }
    };
    const handle: RawWebSocket = {
      socket,
      get status() {
        return Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1] ?? 0);
      },
      get responseHead() {
        return head ?? '';
      },
      frames,
      texts: () => frames.filter((f) => f.opcode === 1).map((f) => f.payload.toString('utf8')),
      closeCode: () => {
        const close = frames.find((f) => f.opcode === 8);
        return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
      },
      ended: endedPromise,
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      destroy: () => socket.destroy(),
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (head === undefined) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 4);
        resolve(handle);
      }
      parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      ended();
      if (head === undefined) reject(new Error('socket closed before the upgrade answer'));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------------------------

export interface LorisSocket {
  readonly socket: Socket;
  readonly openedAt: number;
  closedAt: number | undefined;
  /** What the server wrote before dropping the socket (e.g. a 408), if anything. */
  received: string;
}

/**
 * Opens `count` TCP sockets that send the start of an upgrade request and never finish
 * the headers. With `trickleMs`, each sends one more header byte every `trickleMs` (never the
 * final blank line), the classic slowloris that keeps a per-byte idle timer alive.
 */
export async function openLoris(port: number, path: string, count: number, trickleMs?: number): Promise<{ sockets: LorisSocket[]; stop: () => void }> {
  const sockets: LorisSocket[] = [];
  const timers: NodeJS.Timeout[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          const entry: LorisSocket = { socket, openedAt: Date.now(), closedAt: undefined, received: '' };
          sockets.push(entry);
          socket.on('data', (d: Buffer) => (entry.received += d.toString('latin1')));
          socket.on('error', () => undefined);
          socket.on('close', () => (entry.closedAt ??= Date.now()));
          socket.on('connect', () => {
            socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: `);
            if (trickleMs !== undefined) {
              const timer = setInterval(() => {
                if (!socket.destroyed) socket.write('a');
              }, trickleMs);
              timer.unref();
              timers.push(timer);
            }
            resolve();
          });
        }),
    ),
  );
  return {
    sockets,
    stop: () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.socket.destroy();
    },
  };
}

/** Polls until every socket is closed or `deadline` (epoch ms) passes; returns how many are still open. */
export async function waitAllClosed(sockets: readonly LorisSocket[], deadline: number): Promise<number> {
  const open = (): number => sockets.filter((s) => s.closedAt === undefined).length;
  await eventually(() => open() === 0 || Date.now() >= deadline, Math.max(0, deadline - Date.now()) + 1000, 250).catch(() => undefined);
  return open();
}

/** Opens `n` items with `open(i)`, `batch` at a time. */
export async function inBatches<T>(n: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < n; start += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - start) }, (_, k) => open(start + k)))));
  }
  return out;
}

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export { sleep };

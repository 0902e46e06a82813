/**
 * WS_WRITE_DELAY_MS (WriteBatcher with a delay): a socket's frames of several event-loop turns
 * leave together after the delay, in order; 0 writes at the end of the turn; a close or a
 * queue near WS_MAX_BUFFERED_BYTES writes out what is held at once; no timer outlives what it
 * holds. Over real TCP sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { Connection, type RealtimeSocket } from '../../src/connection/connection.js';
import { WriteBatcher } from '../../src/connection/write-batcher.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { NAMESPACES } from '../../src/protocol/namespaces.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Pair {
  readonly server: Server;
  readonly raw: Socket;
  /** Bytes the peer has read, as text, and how many reads it took. */
  readonly peer: { text: string; reads: number };
}
const pairs: Pair[] = [];

async function tcpPair(): Promise<Pair> {
  const peer = { text: '', reads: 0 };
  const server = createServer((socket) => {
    socket.on('data', (chunk) => {
      peer.text += chunk.toString('latin1');
      peer.reads += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const raw = createConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  raw.setNoDelay(true);
  await new Promise<void>((resolve) => raw.once('connect', resolve));
  const pair = { server, raw, peer };
  pairs.push(pair);
  return pair;
}

afterEach(async () => {
  for (const { server, raw } of pairs.splice(0)) {
    raw.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

function connectionOn(raw: Socket, batcher: WriteBatcher, maxBufferedBytes = 1024 * 1024) {
  const socket = {
    readyState: WebSocket.OPEN as number,
    closes: [] as number[],
    attach() {},
    close(code: number) {
      socket.closes.push(code);
      socket.readyState = WebSocket.CLOSING;
    },
    ping() {},
    terminate() {},
  };
  const connection = new Connection({
    id: 'c1',
    namespace: NAMESPACES.tracking,
    ip: '127.0.0.1',
    openedAt: 0,
    socket: socket as unknown as RealtimeSocket,
    transport: raw,
    limits: { batcher, maxBufferedBytes, maxInvalidFrames: 2, maxRateLimitStrikes: 2, hashIp: () => 'h' },
    timers: { heartbeat: () => undefined, deadline: () => undefined },
  });
  return { connection, socket };
}

/** The JSON payloads of the text frames in `wire` (server frames: unmasked, short lengths). */
function payloads(wire: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < wire.length) {
    let length = wire.charCodeAt(at + 1) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = (wire.charCodeAt(at + 2) << 8) | wire.charCodeAt(at + 3);
      header = 4;
    }
    out.push(wire.slice(at + header, at + header + length));
    at += header + length;
  }
  return out;
}

describe('WS_WRITE_DELAY_MS', () => {
  it('0 (default): each turn’s frames are written at the end of that turn', async () => {
    const { raw, peer } = await tcpPair();
    const batcher = new WriteBatcher(0);
    const { connection } = connectionOn(raw, batcher);
    connection.send('{"n":1}');
    expect(batcher.pending).toBe(true);
    await turn();
    expect(batcher.pending).toBe(false);
    expect(raw.writableLength).toBe(0);
    await sleep(20);
    expect(payloads(peer.text)).toEqual(['{"n":1}']);
  });

  it('40 ms: frames of several turns are held, then leave together in order, and the timer is gone', async () => {
    const { raw, peer } = await tcpPair();
    const batcher = new WriteBatcher(40);
    const { connection } = connectionOn(raw, batcher);
    for (let n = 1; n <= 5; n += 1) {
      connection.send(`{"n":${n}}`);
      await turn();
    }
    await sleep(5);
    expect(peer.text).toBe(''); // nothing written yet: held across turns
    expect(raw.writableLength).toBeGreaterThan(0);
    expect(batcher.pending).toBe(true);
    await sleep(80);
    expect(payloads(peer.text)).toEqual([1, 2, 3, 4, 5].map((n) => `{"n":${n}}`));
    expect(peer.reads).toBe(1); // one write
    expect(batcher.pending).toBe(false);
  });

  it('a close writes out what is held at once (the close is not delayed); shutdown clears the timer', async () => {
    const { raw, peer } = await tcpPair();
    const batcher = new WriteBatcher(100);
    const { connection, socket } = connectionOn(raw, batcher);
    connection.send('{"n":1}');
    await turn();
    expect(peer.text).toBe('');
    connection.close(CloseCode.SLOW_CONSUMER);
    expect(socket.closes).toEqual([CloseCode.SLOW_CONSUMER]);
    expect(raw.writableCorked).toBe(0);
    await sleep(20);
    expect(payloads(peer.text)).toEqual(['{"n":1}']);
    batcher.close();
    expect(batcher.pending).toBe(false);
  });

  it('held bytes near WS_MAX_BUFFERED_BYTES are written out instead of closing a client that reads', async () => {
    const { raw, peer } = await tcpPair();
    const batcher = new WriteBatcher(100);
    const { connection, socket } = connectionOn(raw, batcher, 1024);
    const frame = `{"pad":"${'x'.repeat(300)}"}`;
    for (let n = 0; n < 10; n += 1) expect(connection.send(frame)).toBe(true);
    expect(socket.closes).toEqual([]);
    await sleep(30); // well before the delay: what passed the cap was written out
    expect(payloads(peer.text).length).toBeGreaterThanOrEqual(9);
    await sleep(120);
    expect(payloads(peer.text)).toHaveLength(10);
  });
});

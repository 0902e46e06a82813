import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { Connection, type ConnectionOptions, type RealtimeSocket } from '../../src/connection/connection.js';
import { WriteBatcher } from '../../src/connection/write-batcher.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { NAMESPACES } from '../../src/protocol/namespaces.js';

/** A socket that records what the connection asks of it. */
function fakeSocket(): RealtimeSocket & { closes: Array<[number, string]>; pings: number } {
  let attached: Connection | undefined;
  const socket = {
    readyState: WebSocket.OPEN as number,
    closes: [] as Array<[number, string]>,
    pings: 0,
    attach(connection: Connection) {
      if (attached) throw new Error('already attached');
      attached = connection;
    },
    close(code: number, reason: string) {
      socket.closes.push([code, reason]);
      socket.readyState = WebSocket.CLOSING;
    },
    ping() {
      socket.pings += 1;
    },
    terminate() {},
  };
  return socket as unknown as RealtimeSocket & { closes: Array<[number, string]>; pings: number };
}

const identity = (userId: string, expiresAt = Date.now() + 60_000) => ({ userId, username: userId, roles: [], claims: {}, expiresAt });

function open(overrides: Partial<ConnectionOptions> = {}): { connection: Connection; socket: ReturnType<typeof fakeSocket> } {
  const socket = fakeSocket();
  const connection = new Connection({
    id: 'c1',
    namespace: NAMESPACES.notifications,
    ip: '127.0.0.1',
    openedAt: 0,
    socket,
    transport: { destroyed: false, writableLength: 0, write: () => true, cork() {}, uncork() {}, writableCorked: 0 } as unknown as Socket,
    limits: { batcher: new WriteBatcher(), maxBufferedBytes: 1024, maxInvalidFrames: 2, maxRateLimitStrikes: 2, hashIp: () => 'h' },
    timers: { heartbeat: () => undefined, deadline: () => undefined },
    ...overrides,
  });
  return { connection, socket };
}

describe('Connection: one object owns a connection state, changed only through its methods', () => {
  it('hashes its address only when a log line first asks for it, and once', () => {
    const hashed: string[] = [];
    const hashIp = (ip: string): string => {
      hashed.push(ip);
      return `h(${ip})`;
    };
    const { connection } = open({ limits: { batcher: new WriteBatcher(), maxBufferedBytes: 1024, maxInvalidFrames: 2, maxRateLimitStrikes: 2, hashIp } });
    expect(hashed).toEqual([]);
    expect([connection.ipHash, connection.ipHash]).toEqual(['h(127.0.0.1)', 'h(127.0.0.1)']);
    expect(hashed).toEqual(['127.0.0.1']);
  });

  it('starts pending on an auth-required namespace, authenticates once, refreshes only for the same user', () => {
    const { connection } = open();
    expect(connection.state).toBe('pending');
    connection.authenticate(identity('u1'), 'lease-1');
    expect([connection.state, connection.userId, connection.leaseId]).toEqual(['authenticated', 'u1', 'lease-1']);
    expect(() => connection.authenticate(identity('u1'), 'lease-2')).toThrow();
    expect(() => connection.refresh(identity('u2'))).toThrow();
    connection.refresh(identity('u1', 1));
    expect(connection.identity?.expiresAt).toBe(1);
  });

  it('takes message tokens from the state bucket, which authenticating replaces; handler rates have buckets of their own', () => {
    const { connection } = open();
    const anonymous = { perSec: 1, burst: 1 };
    expect(connection.takeMessageToken(anonymous, true, 0)).toBe(0);
    expect(connection.takeMessageToken(anonymous, true, 0)).toBeGreaterThan(0);
    const own = { perSec: 1, burst: 1 };
    expect(connection.takeMessageToken(own, false, 0)).toBe(0);
    connection.authenticate(identity('u1'), 'l');
    expect(connection.takeMessageToken({ perSec: 1, burst: 1 }, true, 0)).toBe(0);
  });

  it('holds topics up to the limit, and hands them all back once', () => {
    const { connection } = open();
    expect(connection.addTopic('a', 2)).toBe('added');
    expect(connection.addTopic('a', 2)).toBe('already');
    expect(connection.addTopic('b', 2)).toBe('added');
    expect(connection.addTopic('c', 2)).toBe('limit');
    expect(connection.removeTopic('a')).toBe(true);
    expect(connection.removeTopic('a')).toBe(false);
    expect(connection.removeAllTopics()).toEqual(['b']);
    expect(connection.topicCount).toBe(0);
  });

  it('counts strikes within the window and reports the one that reaches the limit', () => {
    const { connection } = open();
    expect(connection.strikeInvalidFrame(0)).toBe(false);
    expect(connection.strikeInvalidFrame(1)).toBe(true);
    expect(connection.strikeRateLimit(0)).toBe(false);
    expect(connection.strikeRateLimit(1)).toBe(true);
  });

  it('closes with a contract code and its fixed reason once; the close is marked once, with the server code first', () => {
    const { connection, socket } = open();
    connection.close(CloseCode.SLOW_CONSUMER);
    connection.close(CloseCode.UNAUTHORIZED);
    expect(socket.closes).toEqual([[CloseCode.SLOW_CONSUMER, expect.any(String)]]);
    expect(connection.markClosed(1006)).toBe(CloseCode.SLOW_CONSUMER);
    expect(connection.markClosed(1006)).toBeUndefined();
    expect(connection.closed).toBe(true);
    expect(connection.addTopic('x', 10)).toBe('limit');
  });

  it('pings once until the pong, which tells when the ping was sent', () => {
    const { connection, socket } = open();
    expect(connection.ping(5)).toBe(true);
    expect(connection.ping(6)).toBe(false);
    expect(socket.pings).toBe(1);
    expect(connection.pong()).toBe(5);
    expect(connection.pong()).toBeUndefined();
  });

  it('has no writable public field: its state is private', () => {
    const { connection } = open();
    const writable = Object.entries(Object.getOwnPropertyDescriptors(connection)).filter(([, d]) => d.writable || d.set);
    // Only `readonly` constructor facts are own properties (TypeScript readonly is not enforced at run time).
    expect(writable.map(([key]) => key).sort()).toEqual(['deadlineTask', 'heartbeatTask', 'id', 'ip', 'namespace', 'openedAt']);
    expect(Object.keys(connection)).not.toContain('state');
  });
});

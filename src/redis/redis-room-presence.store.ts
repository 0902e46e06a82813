import type { RedisClient } from './redis-client-factory.js';
import type { RoomJoinResult, RoomMember, RoomPresenceStore } from '../subscriptions/room-presence.store.js';
import { LuaScript } from './lua-script.js';
import type { RedisConnection, RedisErrorReporter } from './redis-connection.js';

export interface RedisRoomPresenceOptions {
  readonly connection: RedisConnection;
  /** Unique per process, letters, digits, `_` and `-` only (it prefixes hash fields before a `:`). */
  readonly nodeId: string;
  /** A node whose liveness key is older than this is dead and its members ignored (ms, default 15000). */
  readonly livenessTtlMs?: number;
  readonly onError?: RedisErrorReporter;
}

const DEFAULT_LIVENESS_TTL_MS = 15_000;
/** A room key outlives its last renewal by this many liveness TTLs. */
const ROOM_TTL_FACTOR = 4;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Removes the members of dead nodes (no `node:<id>` key) from a room and returns the users
 * that left with them, as flat pairs {userId, "<seq>|<username>"}. O(room size): run by the
 * periodic sweep, and by a join only when the room is full, at most once per prune interval.
 * Scripts build node keys from the prefix: standalone Redis, not Cluster.
 */
const PRUNE = `
local function prune(room, users, nodePrefix)
  local flat = redis.call('HGETALL', room)
  local alive, departed = {}, {}
  for i = 1, #flat, 2 do
    local field, userId = flat[i], flat[i + 1]
    local node = string.match(field, '^([^:]+):')
    if node ~= nil and alive[node] == nil then alive[node] = redis.call('EXISTS', nodePrefix .. node) == 1 end
    if node == nil or not alive[node] then
      redis.call('HDEL', room, field)
      if redis.call('HINCRBY', users, 'n:' .. userId, -1) <= 0 then
        redis.call('HINCRBY', users, '#users', -1)
        departed[#departed + 1] = userId
        departed[#departed + 1] = redis.call('HGET', users, 'u:' .. userId) or '0|'
        redis.call('HDEL', users, 'n:' .. userId, 'u:' .. userId)
      end
    end
  end
  if redis.call('HLEN', room) == 0 then redis.call('DEL', room, users) end
  return departed
end
`;

/**
 * O(1) in the room size (finding R3): a present connection answers at once; otherwise the
 * user's connections and the room's distinct users are counters (docs/protocol.md §11: the
 * cap counts users, not connections). KEYS[1] room:<roomId>, KEYS[2] room:<roomId>:users,
 * KEYS[3] node:<our id>; ARGV: field, userId, node key prefix, username, maxMembers, liveness
 * ttl ms, prune interval ms, maxConnectionsPerUser. Returns {joined, firstOfUser, departed
 * pairs, full} with full 1 for a full room, 2 for a user at its connection cap.
 */
const JOIN = new LuaScript(`${PRUNE}
redis.call('SET', KEYS[3], '1', 'PX', ARGV[6])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1, 0, {}, 0} end
local departed = {}
local own = tonumber(redis.call('HGET', KEYS[2], 'n:' .. ARGV[2]) or '0')
local function full() return own == 0 and tonumber(redis.call('HGET', KEYS[2], '#users') or '0') >= tonumber(ARGV[5]) end
if own >= tonumber(ARGV[8]) then return {0, 0, departed, 2} end
if full() then
  -- Full: members of a dead node may hold places; look, but not more often than the interval.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now - tonumber(redis.call('HGET', KEYS[2], '#pruned') or '0') >= tonumber(ARGV[7]) then
    departed = prune(KEYS[1], KEYS[2], ARGV[3])
    if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[2], '#pruned', now) end
    own = tonumber(redis.call('HGET', KEYS[2], 'n:' .. ARGV[2]) or '0')
  end
  if full() then return {0, 0, departed, 1} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local first = 0
if redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[2], 1) == 1 then
  first = 1
  redis.call('HINCRBY', KEYS[2], '#users', 1)
  local seq = redis.call('HINCRBY', KEYS[2], '#seq', 1)
  redis.call('HSET', KEYS[2], 'u:' .. ARGV[2], seq .. '|' .. ARGV[4])
end
return {1, first, departed, 0}
`);

/**
 * KEYS[1] room:<roomId>, KEYS[2] room:<roomId>:users; ARGV: field, userId.
 * Returns {removed, connections the user still has in the room}. O(1).
 */
const LEAVE = new LuaScript(`
local userId = redis.call('HGET', KEYS[1], ARGV[1])
if not userId then return {0, tonumber(redis.call('HGET', KEYS[2], 'n:' .. ARGV[2]) or '0')} end
redis.call('HDEL', KEYS[1], ARGV[1])
local left = redis.call('HINCRBY', KEYS[2], 'n:' .. userId, -1)
if left <= 0 then
  redis.call('HDEL', KEYS[2], 'n:' .. userId, 'u:' .. userId)
  redis.call('HINCRBY', KEYS[2], '#users', -1)
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return {1, math.max(left, 0)}
`);

/** KEYS[1] room:<roomId>, KEYS[2] room:<roomId>:users; ARGV[1] node key prefix. Returns departed pairs. */
const SWEEP = new LuaScript(`${PRUNE}
return prune(KEYS[1], KEYS[2], ARGV[1])
`);

/**
 * Room membership shared by every node: per room a hash of connections
 * (`room:<roomId>`, field `<nodeId>:<connectionId>`, value the userId) and a hash of users
 * (`room:<roomId>:users`: `n:<userId>` connection count, `u:<userId>` `<seq>|<username>`,
 * `#users` distinct users, `#seq` arrival counter). Join and leave are O(1) Lua scripts, so the member cap and
 * firstOfUser/lastOfUser hold across nodes racing on one room, and a join costs Redis the
 * same in a room of 2 or of 500 (finding R3: it used to read and decode every member).
 *
 * Each node keeps `node:<nodeId>` alive (TTL renewed every third of it). Members of a node
 * whose key is gone (a crashed node) are removed by `sweepDeparted` (which returns them so
 * the survivors announce their `room.presence` leave), or, when they fill a room, by the
 * next join, at most once per third of the TTL per room.
 */
export class RedisRoomPresenceStore implements RoomPresenceStore {
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly report: RedisErrorReporter;
  /** Departures found by a join's prune, reported by the next `sweepDeparted`. */
  private readonly pendingDeparted: Array<{ roomId: string; user: RoomMember }> = [];
  /** Rooms this node has members in, with their connections: `rooms()` and `leave` of pruned entries. */
  private readonly local = new Map<string, Set<string>>();
  /** After a reconnect our key may have expired during the outage: renew at once. */
  private readonly onReady = (): void => void this.heartbeat();

  constructor(private readonly options: RedisRoomPresenceOptions) {
    if (!NODE_ID.test(options.nodeId)) throw new RangeError('nodeId must be 1-64 letters, digits, _ or -');
    this.ttlMs = options.livenessTtlMs ?? DEFAULT_LIVENESS_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 3) throw new RangeError('livenessTtlMs must be an integer of at least 3');
    this.report = options.onError ?? (() => undefined);
    if (options.connection.command.status === 'ready') void this.heartbeat();
    options.connection.command.on('ready', this.onReady);
    this.timer = setInterval(() => void this.heartbeat(), Math.floor(this.ttlMs / 3));
    this.timer.unref();
  }

  async join(
    roomId: string,
    connectionId: string,
    member: RoomMember,
    maxMembers: number,
    maxConnectionsPerUser = Number.MAX_SAFE_INTEGER,
  ): Promise<RoomJoinResult> {
    const reply = await JOIN.run(
      this.client,
      [this.roomKey(roomId), this.usersKey(roomId), this.nodeKey(this.options.nodeId)],
      [
        this.field(connectionId),
        member.userId,
        this.nodeKey(''),
        member.username,
        maxMembers,
        this.ttlMs,
        Math.floor(this.ttlMs / 3),
        maxConnectionsPerUser,
      ],
    );
    const [joined, firstOfUser, departed, full] = reply as [number, number, string[], number];
    this.pendingDeparted.push(...departures(roomId, departed));
    if (joined !== 1) return { joined: false, full: full === 2 ? 'user' : 'room' };
    let connections = this.local.get(roomId);
    if (!connections) {
      connections = new Set();
      this.local.set(roomId, connections);
    }
    connections.add(connectionId);
    // The member list of `room.joined`: one read of the per-user hash, no decoding in Redis.
    return { joined: true, firstOfUser: firstOfUser === 1, members: byArrival(await this.client.hgetall(this.usersKey(roomId))) };
  }

  async leave(roomId: string, connectionId: string, userId: string): Promise<boolean> {
    const reply = await LEAVE.run(this.client, [this.roomKey(roomId), this.usersKey(roomId)], [this.field(connectionId), userId]);
    const [removed, userConnections] = reply as [number, number];
    const connections = this.local.get(roomId);
    const wasLocal = connections?.delete(connectionId) ?? false;
    if (connections?.size === 0) this.local.delete(roomId);
    // Our entry may already have been pruned (we looked dead during a stall): the member
    // still left, so the rest must still hear of it.
    if (removed !== 1 && !wasLocal) return false;
    return userConnections === 0;
  }

  async sweepDeparted(): Promise<ReadonlyArray<{ readonly roomId: string; readonly user: RoomMember }>> {
    const departed = this.pendingDeparted.splice(0);
    for (const roomId of this.local.keys()) {
      const reply = (await SWEEP.run(this.client, [this.roomKey(roomId), this.usersKey(roomId)], [this.nodeKey('')])) as string[];
      departed.push(...departures(roomId, reply));
    }
    return departed;
  }

  /** Rooms in which this node has at least one member (not every room in Redis). */
  async rooms(): Promise<number> {
    return this.local.size;
  }

  /**
   * Stops renewing the liveness key; this node's members disappear for the others within
   * the TTL (as if the node died). Leave rooms first for an immediate, announced exit.
   */
  close(): void {
    clearInterval(this.timer);
    this.client.off('ready', this.onReady);
  }

  private async heartbeat(): Promise<void> {
    try {
      // Rooms live while some live node holds members in them: each node extends its own,
      // so a room left only with dead members expires instead of staying in Redis forever.
      const pipeline = this.client.pipeline().set(this.nodeKey(this.options.nodeId), '1', 'PX', this.ttlMs);
      for (const roomId of this.local.keys()) {
        pipeline.pexpire(this.roomKey(roomId), ROOM_TTL_FACTOR * this.ttlMs).pexpire(this.usersKey(roomId), ROOM_TTL_FACTOR * this.ttlMs);
      }
      await pipeline.exec();
    } catch (error) {
      this.report('redis presence heartbeat', error);
    }
  }

  private get client(): RedisClient {
    return this.options.connection.command;
  }

  private roomKey(roomId: string): string {
    return this.options.connection.key(`room:${roomId}`);
  }

  /** Room ids are identifiers without `:` (docs/protocol.md §5), so this never names another room. */
  private usersKey(roomId: string): string {
    return this.options.connection.key(`room:${roomId}:users`);
  }

  private nodeKey(nodeId: string): string {
    return this.options.connection.key(`node:${nodeId}`);
  }

  private field(connectionId: string): string {
    return `${this.options.nodeId}:${connectionId}`;
  }
}

/** Distinct users of a per-user hash, in order of their first join (hash order is arbitrary). */
function byArrival(users: Record<string, string>): RoomMember[] {
  const members: Array<RoomMember & { seq: number }> = [];
  for (const [field, value] of Object.entries(users)) {
    if (!field.startsWith('u:')) continue;
    const bar = value.indexOf('|');
    members.push({ userId: field.slice(2), username: value.slice(bar + 1), seq: Number(value.slice(0, bar)) });
  }
  return members.sort((a, b) => a.seq - b.seq).map(({ userId, username }) => ({ userId, username }));
}

/** Flat {userId, "<seq>|<username>"} pairs from a prune, as departures from `roomId`. */
function departures(roomId: string, flat: readonly string[]): Array<{ roomId: string; user: RoomMember }> {
  const out: Array<{ roomId: string; user: RoomMember }> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1]!;
    out.push({ roomId, user: { userId: flat[i]!, username: value.slice(value.indexOf('|') + 1) } });
  }
  return out;
}

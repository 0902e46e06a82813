import type { RoomJoinResult, RoomMember, RoomPresenceStore } from '../subscriptions/room-presence.store.js';
import { LuaScript } from './lua-script.js';
import type { RedisErrorReporter } from './redis-connection.js';
import { forEachLimited, type RedisKeyspace, taggedKey } from './redis-keyspace.js';

export interface RedisRoomPresenceOptions {
  readonly connection: RedisKeyspace;
  /** Unique per process, letters, digits, `_` and `-` only (it prefixes hash fields before a `:`). */
  readonly nodeId: string;
  /** A node whose liveness entry is older than this is dead and its members ignored (ms, default 15000). */
  readonly livenessTtlMs?: number;
  readonly onError?: RedisErrorReporter;
  /**
   * Names the kind of room in the keys (default `room`), so one Redis holds collaboration
   * rooms and commodity members (`commodity`) apart. Letters only.
   */
  readonly kind?: string;
  /** `room.joined` needs the member list (default); a cap-only use (commodity) skips that read. */
  readonly listMembers?: boolean;
}

const DEFAULT_LIVENESS_TTL_MS = 15_000;
/** A room key outlives its last renewal by this many liveness TTLs. */
const ROOM_TTL_FACTOR = 4;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Rooms renewed concurrently by one heartbeat (one script call each: rooms are in different slots). */
const HEARTBEAT_CONCURRENCY = 16;

/**
 * Every script declares ROOM, USERS, NODES (KEYS[1..3], one hash tag: one Cluster slot) before
 * this. NODES holds, per node with members in the room, when its liveness runs out (Redis
 * clock, ms): a node's liveness is kept beside each room it is in, not under one global key,
 * so that a script reads only keys of its own slot.
 */
const CLOCK = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Removes the members of dead nodes (liveness run out in NODES) from a room and returns the
 * users that left with them, as flat pairs {userId, "<seq>|<username>"}. O(room size): run by
 * the periodic sweep, and by a join only when the room is full, at most once per prune interval.
 */
const PRUNE = `${CLOCK}
local function prune()
  local now = clock()
  local flat = redis.call('HGETALL', ROOM)
  local alive, departed = {}, {}
  for i = 1, #flat, 2 do
    local field, userId = flat[i], flat[i + 1]
    local node = string.match(field, '^([^:]+):')
    if node ~= nil and alive[node] == nil then alive[node] = tonumber(redis.call('HGET', NODES, node) or '0') > now end
    if node == nil or not alive[node] then
      redis.call('HDEL', ROOM, field)
      if redis.call('HINCRBY', USERS, 'n:' .. userId, -1) <= 0 then
        redis.call('HINCRBY', USERS, '#users', -1)
        departed[#departed + 1] = userId
        departed[#departed + 1] = redis.call('HGET', USERS, 'u:' .. userId) or '0|'
        redis.call('HDEL', USERS, 'n:' .. userId, 'u:' .. userId)
      end
    end
  end
  for node, live in pairs(alive) do
    if not live then redis.call('HDEL', NODES, node) end
  end
  if redis.call('HLEN', ROOM) == 0 then redis.call('DEL', ROOM, USERS, NODES) end
  return departed
end
`;

const ROOM_KEYS = `local ROOM, USERS, NODES = KEYS[1], KEYS[2], KEYS[3]\n`;

/**
 * O(1) in the room size (finding R3): a present connection answers at once; otherwise the
 * user's connections and the room's distinct users are counters (docs/protocol.md §11: the
 * cap counts users, not connections). KEYS: ROOM, USERS, NODES; ARGV: field, userId, our
 * node id, username, maxMembers, liveness ttl ms, prune interval ms, maxConnectionsPerUser,
 * room key ttl ms. Returns {joined, firstOfUser, departed pairs, full} with full 1 for a full
 * room, 2 for a user at its connection cap.
 */
const JOIN = new LuaScript(`${ROOM_KEYS}${PRUNE}
redis.call('HSET', NODES, ARGV[3], clock() + tonumber(ARGV[6]))
redis.call('PEXPIRE', NODES, ARGV[9])
if redis.call('HEXISTS', ROOM, ARGV[1]) == 1 then return {1, 0, {}, 0} end
local departed = {}
local own = tonumber(redis.call('HGET', USERS, 'n:' .. ARGV[2]) or '0')
local function full() return own == 0 and tonumber(redis.call('HGET', USERS, '#users') or '0') >= tonumber(ARGV[5]) end
if own >= tonumber(ARGV[8]) then return {0, 0, departed, 2} end
if full() then
  -- Full: members of a dead node may hold places; look, but not more often than the interval.
  local now = clock()
  if now - tonumber(redis.call('HGET', USERS, '#pruned') or '0') >= tonumber(ARGV[7]) then
    departed = prune()
    if redis.call('EXISTS', ROOM) == 1 then redis.call('HSET', USERS, '#pruned', now) end
    redis.call('HSET', NODES, ARGV[3], now + tonumber(ARGV[6]))
    own = tonumber(redis.call('HGET', USERS, 'n:' .. ARGV[2]) or '0')
  end
  if full() then return {0, 0, departed, 1} end
end
redis.call('HSET', ROOM, ARGV[1], ARGV[2])
local first = 0
if redis.call('HINCRBY', USERS, 'n:' .. ARGV[2], 1) == 1 then
  first = 1
  redis.call('HINCRBY', USERS, '#users', 1)
  local seq = redis.call('HINCRBY', USERS, '#seq', 1)
  redis.call('HSET', USERS, 'u:' .. ARGV[2], seq .. '|' .. ARGV[4])
end
-- A room whose nodes all die expires instead of staying in Redis forever.
for _, key in ipairs({ROOM, USERS}) do redis.call('PEXPIRE', key, ARGV[9]) end
return {1, first, departed, 0}
`);

/**
 * KEYS: ROOM, USERS, NODES; ARGV: field, userId.
 * Returns {removed, connections the user still has in the room}. O(1).
 */
const LEAVE = new LuaScript(`${ROOM_KEYS}
local userId = redis.call('HGET', ROOM, ARGV[1])
if not userId then return {0, tonumber(redis.call('HGET', USERS, 'n:' .. ARGV[2]) or '0')} end
redis.call('HDEL', ROOM, ARGV[1])
local left = redis.call('HINCRBY', USERS, 'n:' .. userId, -1)
if left <= 0 then
  redis.call('HDEL', USERS, 'n:' .. userId, 'u:' .. userId)
  redis.call('HINCRBY', USERS, '#users', -1)
end
if redis.call('HLEN', ROOM) == 0 then redis.call('DEL', ROOM, USERS, NODES) end
return {1, math.max(left, 0)}
`);

/** KEYS: ROOM, USERS, NODES. Returns departed pairs. */
const SWEEP = new LuaScript(`${ROOM_KEYS}${PRUNE}
return prune()
`);

/**
 * This node is alive in this room, and the room lives on while it is. KEYS: ROOM, USERS,
 * NODES; ARGV: our node id, liveness ttl ms, room key ttl ms.
 */
const HEARTBEAT = new LuaScript(`${ROOM_KEYS}${CLOCK}
if redis.call('EXISTS', ROOM) == 0 then return 0 end
redis.call('HSET', NODES, ARGV[1], clock() + tonumber(ARGV[2]))
for _, key in ipairs({ROOM, USERS, NODES}) do redis.call('PEXPIRE', key, ARGV[3]) end
return 1
`);

/**
 * Room membership shared by every node. Per room, three hashes under one hash tag
 * (`{<kind>:<roomId>}`, so every script works on a Cluster): connections (field
 * `<nodeId>:<connectionId>`, value the userId), users (`:users`: `n:<userId>` connection
 * count, `u:<userId>` `<seq>|<username>`, `#users` distinct users, `#seq` arrival counter) and
 * the liveness of the nodes with members there (`:nodes`: `<nodeId>` → expiry, Redis clock).
 * Join and leave are O(1) Lua scripts, so the member cap and firstOfUser/lastOfUser hold across
 * nodes racing on one room, and a join costs Redis the same in a room of 2 or of 500 (finding
 * R3: it used to read and decode every member).
 *
 * Each node renews its liveness in every room it has members in (one script per room every
 * third of the TTL). Members of a node whose liveness ran out (a crashed node) are removed by
 * `sweepDeparted` (which returns them so the survivors announce their `room.presence` leave),
 * or, when they fill a room, by the next join, at most once per third of the TTL per room. A
 * room left with dead members only expires. Nothing ever scans the keyspace.
 */
export class RedisRoomPresenceStore implements RoomPresenceStore {
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly report: RedisErrorReporter;
  private readonly kind: string;
  /** Departures found by a join's prune, reported by the next `sweepDeparted`. */
  private readonly pendingDeparted: Array<{ roomId: string; user: RoomMember }> = [];
  /** Rooms this node has members in, with their connections: `rooms()` and `leave` of pruned entries. */
  private readonly local = new Map<string, Set<string>>();
  /** After a reconnect our liveness may have run out during the outage: renew at once. */
  private readonly onReady = (): void => void this.heartbeat();
  private beating = false;

  constructor(private readonly options: RedisRoomPresenceOptions) {
    if (!NODE_ID.test(options.nodeId)) throw new RangeError('nodeId must be 1-64 letters, digits, _ or -');
    this.ttlMs = options.livenessTtlMs ?? DEFAULT_LIVENESS_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 3) throw new RangeError('livenessTtlMs must be an integer of at least 3');
    this.kind = options.kind ?? 'room';
    if (!/^[a-z]{1,32}$/.test(this.kind)) throw new RangeError('kind must be 1-32 lowercase letters');
    this.report = options.onError ?? (() => undefined);
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
    const reply = await JOIN.run(this.client, this.keys(roomId), [
      this.field(connectionId),
      member.userId,
      this.options.nodeId,
      member.username,
      maxMembers,
      this.ttlMs,
      Math.floor(this.ttlMs / 3),
      maxConnectionsPerUser,
      ROOM_TTL_FACTOR * this.ttlMs,
    ]);
    const [joined, firstOfUser, departed, full] = reply as [number, number, string[], number];
    this.pendingDeparted.push(...departures(roomId, departed));
    if (joined !== 1) return { joined: false, full: full === 2 ? 'user' : 'room' };
    let connections = this.local.get(roomId);
    if (!connections) {
      connections = new Set();
      this.local.set(roomId, connections);
    }
    connections.add(connectionId);
    if (this.options.listMembers === false) return { joined: true, firstOfUser: firstOfUser === 1, members: [] };
    // The member list of `room.joined`: one read of the per-user hash, no decoding in Redis.
    return { joined: true, firstOfUser: firstOfUser === 1, members: byArrival(await this.client.hgetall(this.usersKey(roomId))) };
  }

  async leave(roomId: string, connectionId: string, userId: string): Promise<boolean> {
    const reply = await LEAVE.run(this.client, this.keys(roomId), [this.field(connectionId), userId]);
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
      const reply = (await SWEEP.run(this.client, this.keys(roomId), [])) as string[];
      departed.push(...departures(roomId, reply));
    }
    return departed;
  }

  /** Rooms in which this node has at least one member (not every room in Redis). */
  async rooms(): Promise<number> {
    return this.local.size;
  }

  /**
   * Stops renewing this node's liveness; its members disappear for the others within the TTL
   * (as if the node died). Leave rooms first for an immediate, announced exit.
   */
  close(): void {
    clearInterval(this.timer);
    this.client.off('ready', this.onReady);
  }

  /** One renewal pass over the rooms this node is in; public for tests. Errors are reported per room. */
  async heartbeat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await forEachLimited([...this.local.keys()], HEARTBEAT_CONCURRENCY, async (roomId) => {
        await HEARTBEAT.run(this.client, this.keys(roomId), [this.options.nodeId, this.ttlMs, ROOM_TTL_FACTOR * this.ttlMs]).catch((error: unknown) =>
          this.report('redis presence heartbeat', error),
        );
      });
    } finally {
      this.beating = false;
    }
  }

  private get client(): RedisKeyspace['command'] {
    return this.options.connection.command;
  }

  /** ROOM, USERS, NODES of a room: one hash tag, one slot. Room ids are identifiers without braces (docs/protocol.md §5). */
  private keys(roomId: string): [string, string, string] {
    const tag = `${this.kind}:${roomId}`;
    return [taggedKey(this.options.connection, tag), taggedKey(this.options.connection, tag, ':users'), taggedKey(this.options.connection, tag, ':nodes')];
  }

  private usersKey(roomId: string): string {
    return this.keys(roomId)[1];
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

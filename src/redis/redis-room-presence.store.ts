import type { Redis } from 'ioredis';
import { distinctUsers, type RoomJoinResult, type RoomMember, type RoomPresenceStore } from '../subscriptions/room-presence.store.js';
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
/** Hash field holding the room's join counter (orders members by arrival); no node id starts with '#'. */
const SEQ_FIELD = '#seq';

/**
 * Walks a room hash, skipping members of dead nodes (no `node:<id>` key), and collects the
 * live ones. Scripts build node keys from the prefix: standalone Redis, not Cluster.
 * Expects ARGV[1] = our field, ARGV[2] = userId, ARGV[3] = node key prefix.
 */
const SCAN_ROOM = `
local alive = {}
local function isAlive(field)
  local node = string.match(field, '^([^:]+):')
  if node == nil then return false end
  if alive[node] == nil then alive[node] = redis.call('EXISTS', ARGV[3] .. node) == 1 end
  return alive[node]
end
local function scan(key)
  local flat = redis.call('HGETALL', key)
  local members, count, present, userSeen = {}, 0, false, false
  for i = 1, #flat, 2 do
    local field = flat[i]
    if field ~= '${SEQ_FIELD}' then
      -- Members of dead nodes are skipped, not removed: sweepDeparted removes and announces them.
      if isAlive(field) then
        count = count + 1
        members[#members + 1] = flat[i + 1]
        if field == ARGV[1] then present = true end
        if cjson.decode(flat[i + 1]).userId == ARGV[2] then userSeen = true end
      end
    end
  end
  return members, count, present, userSeen
end
`;

/**
 * KEYS[1] room:<roomId>, KEYS[2] node:<our id>; ARGV: field, userId, node key prefix,
 * username, maxMembers, liveness ttl ms. Returns {joined, firstOfUser, members JSON...}.
 */
const JOIN = new LuaScript(`${SCAN_ROOM}
redis.call('SET', KEYS[2], '1', 'PX', ARGV[6])
local members, count, present, userSeen = scan(KEYS[1])
if present then return {1, 0, members} end
if count >= tonumber(ARGV[5]) then
  if count == 0 then redis.call('DEL', KEYS[1]) end
  return {0, 0, {}}
end
local seq = redis.call('HINCRBY', KEYS[1], '${SEQ_FIELD}', 1)
local value = cjson.encode({userId = ARGV[2], username = ARGV[4], seq = seq})
redis.call('HSET', KEYS[1], ARGV[1], value)
members[#members + 1] = value
return {1, userSeen and 0 or 1, members}
`);

/** KEYS[1] room:<roomId>; ARGV: field, userId, node key prefix. Returns {removed, userStillPresent}. */
const LEAVE = new LuaScript(`${SCAN_ROOM}
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
local _, count, _, userSeen = scan(KEYS[1])
if count == 0 then redis.call('DEL', KEYS[1]) end
return {removed, userSeen and 1 or 0}
`);

/**
 * KEYS[1] room:<roomId>; ARGV[1] node key prefix. Drops members of dead nodes and returns
 * those whose user has no live member left, as JSON. Atomic: a dead member is returned by
 * the one node whose sweep removed it.
 */
const SWEEP = new LuaScript(`
local flat = redis.call('HGETALL', KEYS[1])
local alive, live, dead = {}, {}, {}
for i = 1, #flat, 2 do
  local field = flat[i]
  if field ~= '${SEQ_FIELD}' then
    local node = string.match(field, '^([^:]+):')
    if node ~= nil and alive[node] == nil then alive[node] = redis.call('EXISTS', ARGV[1] .. node) == 1 end
    if node ~= nil and alive[node] then
      live[cjson.decode(flat[i + 1]).userId] = true
    else
      redis.call('HDEL', KEYS[1], field)
      dead[#dead + 1] = flat[i + 1]
    end
  end
end
local departed = {}
for _, value in ipairs(dead) do
  if not live[cjson.decode(value).userId] then departed[#departed + 1] = value end
end
if next(live) == nil then redis.call('DEL', KEYS[1]) end
return departed
`);

interface StoredMember extends RoomMember {
  readonly seq: number;
}

/**
 * Room membership shared by every node: a hash per room (`room:<roomId>`), field
 * `<nodeId>:<connectionId>`, value the member as JSON. Join and leave are Lua scripts, so
 * the member cap and firstOfUser/lastOfUser hold across nodes racing on one room.
 *
 * Each node keeps `node:<nodeId>` alive (TTL renewed every third of it); members of a node
 * whose key is gone (a crashed node) are ignored, pruned by the next join or leave, and
 * reported by `sweepDeparted` so the survivors announce their `room.presence` leave.
 */
export class RedisRoomPresenceStore implements RoomPresenceStore {
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly report: RedisErrorReporter;
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

  async join(roomId: string, connectionId: string, member: RoomMember, maxMembers: number): Promise<RoomJoinResult> {
    const reply = await JOIN.run(
      this.client,
      [this.roomKey(roomId), this.nodeKey(this.options.nodeId)],
      [this.field(connectionId), member.userId, this.nodeKey(''), member.username, maxMembers, this.ttlMs],
    );
    const [joined, firstOfUser, members] = reply as [number, number, string[]];
    if (joined !== 1) return { joined: false, firstOfUser: false, members: [] };
    let connections = this.local.get(roomId);
    if (!connections) {
      connections = new Set();
      this.local.set(roomId, connections);
    }
    connections.add(connectionId);
    return { joined: true, firstOfUser: firstOfUser === 1, members: byArrival(members) };
  }

  async leave(roomId: string, connectionId: string, userId: string): Promise<boolean> {
    const reply = await LEAVE.run(this.client, [this.roomKey(roomId)], [this.field(connectionId), userId, this.nodeKey('')]);
    const [removed, userStillPresent] = reply as [number, number];
    const connections = this.local.get(roomId);
    const wasLocal = connections?.delete(connectionId) ?? false;
    if (connections?.size === 0) this.local.delete(roomId);
    // Our entry may already have been pruned (we looked dead during a stall): the member
    // still left, so the rest must still hear of it.
    if (removed !== 1 && !wasLocal) return false;
    return userStillPresent === 0;
  }

  async sweepDeparted(): Promise<ReadonlyArray<{ readonly roomId: string; readonly user: RoomMember }>> {
    const departed: Array<{ roomId: string; user: RoomMember }> = [];
    const seen = new Set<string>();
    for (const roomId of this.local.keys()) {
      const reply = (await SWEEP.run(this.client, [this.roomKey(roomId)], [this.nodeKey('')])) as string[];
      for (const value of reply) {
        const { userId, username } = JSON.parse(value) as StoredMember;
        // Two dead tabs of one user in a room are one departure.
        const key = `${roomId}\u0000${userId}`;
        if (seen.has(key)) continue;
        seen.add(key);
        departed.push({ roomId, user: { userId, username } });
      }
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
      for (const roomId of this.local.keys()) pipeline.pexpire(this.roomKey(roomId), ROOM_TTL_FACTOR * this.ttlMs);
      await pipeline.exec();
    } catch (error) {
      this.report('redis presence heartbeat', error);
    }
  }

  private get client(): Redis {
    return this.options.connection.command;
  }

  private roomKey(roomId: string): string {
    return this.options.connection.key(`room:${roomId}`);
  }

  private nodeKey(nodeId: string): string {
    return this.options.connection.key(`node:${nodeId}`);
  }

  private field(connectionId: string): string {
    return `${this.options.nodeId}:${connectionId}`;
  }
}

/** Distinct users, in order of their first join (hash order is arbitrary). */
function byArrival(values: readonly string[]): RoomMember[] {
  const stored = values.map((value) => JSON.parse(value) as StoredMember).sort((a, b) => a.seq - b.seq);
  return distinctUsers(stored.map(({ userId, username }) => ({ userId, username })));
}

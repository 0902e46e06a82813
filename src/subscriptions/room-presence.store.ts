import type { RoomMemberData } from '../protocol/namespace-descriptors.js';

/** A member of a collaboration room as others see it. */
export type RoomMember = RoomMemberData;

export interface RoomJoinResult {
  /** False when the room already had `maxMembers` connections. */
  readonly joined: boolean;
  /** The user had no other connection in the room (so others get `room.presence` join). */
  readonly firstOfUser: boolean;
  /** Distinct users in the room after the join, one entry per user. */
  readonly members: readonly RoomMember[];
}

/**
 * Who is in which collaboration room, across every node: the source of `room.joined`
 * member lists, per-user presence and the room member cap. Connections are keyed by
 * connection id. Replace it through `ROOM_PRESENCE_STORE`.
 */
export interface RoomPresenceStore {
  join(roomId: string, connectionId: string, member: RoomMember, maxMembers: number): Promise<RoomJoinResult>;
  /** Returns true when the user has no connection left in the room. */
  leave(roomId: string, connectionId: string, userId: string): Promise<boolean>;
  /** Rooms with at least one member known to this store (for tests and metrics). */
  rooms(): Promise<number>;
  /**
   * Removes the members of nodes that died without leaving, in the rooms this node has
   * members in, and returns the users who thereby left a room (no connection of theirs is
   * left there). Each departed member is returned by exactly one node.
   */
  sweepDeparted(): Promise<ReadonlyArray<{ readonly roomId: string; readonly user: RoomMember }>>;
}

export const ROOM_PRESENCE_STORE = Symbol('ROOM_PRESENCE_STORE');

/** Single-node presence; a room's entry is deleted with its last member (finding 20). */
export class InMemoryRoomPresenceStore implements RoomPresenceStore {
  private readonly byRoom = new Map<string, Map<string, RoomMember>>();

  async join(roomId: string, connectionId: string, member: RoomMember, maxMembers: number): Promise<RoomJoinResult> {
    let room = this.byRoom.get(roomId);
    if (room?.has(connectionId)) return { joined: true, firstOfUser: false, members: distinctUsers(room.values()) };
    if ((room?.size ?? 0) >= maxMembers) return { joined: false, firstOfUser: false, members: [] };
    if (!room) {
      room = new Map();
      this.byRoom.set(roomId, room);
    }
    const firstOfUser = ![...room.values()].some((m) => m.userId === member.userId);
    room.set(connectionId, member);
    return { joined: true, firstOfUser, members: distinctUsers(room.values()) };
  }

  async leave(roomId: string, connectionId: string, userId: string): Promise<boolean> {
    const room = this.byRoom.get(roomId);
    if (!room?.delete(connectionId)) return false;
    if (room.size === 0) this.byRoom.delete(roomId);
    return ![...room.values()].some((m) => m.userId === userId);
  }

  async rooms(): Promise<number> {
    return this.byRoom.size;
  }

  /** One node: every member is local and leaves through `leave`. */
  async sweepDeparted(): Promise<ReadonlyArray<{ readonly roomId: string; readonly user: RoomMember }>> {
    return [];
  }
}

/** One entry per user, in order of arrival. */
export function distinctUsers(members: Iterable<RoomMember>): RoomMember[] {
  const byUser = new Map<string, RoomMember>();
  for (const m of members) if (!byUser.has(m.userId)) byUser.set(m.userId, m);
  return [...byUser.values()];
}

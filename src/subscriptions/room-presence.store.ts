import type { RoomMemberData } from '../protocol/namespace-descriptors.js';

/** A member of a collaboration room as others see it. */
export type RoomMember = RoomMemberData;

export type RoomJoinResult =
  | {
      readonly joined: true;
      /** The user had no other connection in the room (so others get `room.presence` join). */
      readonly firstOfUser: boolean;
      /** Distinct users in the room after the join, one entry per user. */
      readonly members: readonly RoomMember[];
    }
  | {
      readonly joined: false;
      /**
       * `room`: the room already has `maxMembers` distinct users and this user is not one of
       * them; `user`: the user already has `maxConnectionsPerUser` connections in it.
       */
      readonly full: 'room' | 'user';
    };

/**
 * Who is in which collaboration room, across every node: the source of `room.joined`
 * member lists, per-user presence and the room caps (docs/protocol.md §11: `maxMembers`
 * distinct users, `maxConnectionsPerUser` connections of one user). Connections are keyed
 * by connection id; a connection already in the room joins again without any change.
 * Replace it through `ROOM_PRESENCE_STORE`.
 */
export interface RoomPresenceStore {
  join(
    roomId: string,
    connectionId: string,
    member: RoomMember,
    maxMembers: number,
    maxConnectionsPerUser?: number,
  ): Promise<RoomJoinResult>;
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

/**
 * Who is in which commodity chat room, across every node: a RoomPresenceStore of its own
 * (with Redis under its own keys; a dead node's members pruned as in collaboration rooms),
 * used for its distinct-user cap only (WS_MAX_ROOM_MEMBERS, docs/protocol.md §11).
 */
export const COMMODITY_MEMBER_STORE = Symbol('COMMODITY_MEMBER_STORE');

/** Single-node presence; a room's entry is deleted with its last member (finding 20). */
export class InMemoryRoomPresenceStore implements RoomPresenceStore {
  private readonly byRoom = new Map<string, InMemoryRoom>();

  async join(
    roomId: string,
    connectionId: string,
    member: RoomMember,
    maxMembers: number,
    maxConnectionsPerUser = Number.MAX_SAFE_INTEGER,
  ): Promise<RoomJoinResult> {
    let room = this.byRoom.get(roomId);
    if (room?.connections.has(connectionId)) return { joined: true, firstOfUser: false, members: [...room.users.values()] };
    const own = room?.connectionsOf.get(member.userId) ?? 0;
    if (own >= maxConnectionsPerUser) return { joined: false, full: 'user' };
    if (own === 0 && (room?.users.size ?? 0) >= maxMembers) return { joined: false, full: 'room' };
    if (!room) {
      room = { connections: new Map(), connectionsOf: new Map(), users: new Map() };
      this.byRoom.set(roomId, room);
    }
    room.connections.set(connectionId, member.userId);
    room.connectionsOf.set(member.userId, own + 1);
    if (own === 0) room.users.set(member.userId, member);
    return { joined: true, firstOfUser: own === 0, members: [...room.users.values()] };
  }

  async leave(roomId: string, connectionId: string, userId: string): Promise<boolean> {
    const room = this.byRoom.get(roomId);
    const memberId = room?.connections.get(connectionId);
    if (!room || memberId === undefined) return false;
    room.connections.delete(connectionId);
    const left = (room.connectionsOf.get(memberId) ?? 1) - 1;
    if (left > 0) room.connectionsOf.set(memberId, left);
    else {
      room.connectionsOf.delete(memberId);
      room.users.delete(memberId);
    }
    if (room.connections.size === 0) this.byRoom.delete(roomId);
    return memberId === userId && left === 0;
  }

  async rooms(): Promise<number> {
    return this.byRoom.size;
  }

  /** One node: every member is local and leaves through `leave`. */
  async sweepDeparted(): Promise<ReadonlyArray<{ readonly roomId: string; readonly user: RoomMember }>> {
    return [];
  }
}

/** One room: connection → user id, connections per user, and the distinct users in order of arrival. */
interface InMemoryRoom {
  readonly connections: Map<string, string>;
  readonly connectionsOf: Map<string, number>;
  readonly users: Map<string, RoomMember>;
}

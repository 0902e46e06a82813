const NONE: readonly never[] = [];

/**
 * A set of members held as nothing, the lone member itself, or a `Set` once there are two.
 * Most sets of the connection indexes hold one member (a user's connection, a topic's
 * subscriber, a connection's topic), and a one-element `Set` with its hash table costs about
 * 200 bytes of heap. Members must not be `Set`s themselves. The functions below return the
 * new value to store.
 */
export type OneOrMany<V> = V | Set<V> | undefined;

export function addMember<V>(current: OneOrMany<V>, member: V): OneOrMany<V> {
  if (current === undefined) return member;
  if (current instanceof Set) return current.add(member);
  return current === member ? current : new Set([current, member]);
}

/** `undefined` once the last member is gone. */
export function removeMember<V>(current: OneOrMany<V>, member: V): OneOrMany<V> {
  if (current instanceof Set) {
    current.delete(member);
    return current.size === 0 ? undefined : current;
  }
  return current === member ? undefined : current;
}

export function hasMember<V>(current: OneOrMany<V>, member: V): boolean {
  return current instanceof Set ? current.has(member) : current !== undefined && current === member;
}

export function countMembers<V>(current: OneOrMany<V>): number {
  if (current === undefined) return 0;
  return current instanceof Set ? current.size : 1;
}

/** Safe to iterate while members are added or removed. */
export function membersOf<V>(current: OneOrMany<V>): Iterable<V> {
  if (current === undefined) return NONE;
  return current instanceof Set ? current : [current];
}

/** A map from keys to `OneOrMany` members; a key is removed with its last member. */
export class KeyedSets<K, V> {
  private readonly entries = new Map<K, V | Set<V>>();

  /** Number of keys. */
  get size(): number {
    return this.entries.size;
  }

  /** Returns false when the member was already there. */
  add(key: K, member: V): boolean {
    const current = this.entries.get(key);
    if (hasMember(current, member)) return false;
    this.entries.set(key, addMember(current, member)!);
    return true;
  }

  /** Returns false when the member was not there. */
  delete(key: K, member: V): boolean {
    const current = this.entries.get(key);
    if (!hasMember(current, member)) return false;
    const rest = removeMember(current, member);
    if (rest === undefined) this.entries.delete(key);
    else this.entries.set(key, rest);
    return true;
  }

  has(key: K, member: V): boolean {
    return hasMember(this.entries.get(key), member);
  }

  count(key: K): number {
    return countMembers(this.entries.get(key));
  }

  members(key: K): Iterable<V> {
    return membersOf(this.entries.get(key));
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  /** Members over all keys. */
  totalMembers(): number {
    let total = 0;
    for (const current of this.entries.values()) total += countMembers(current);
    return total;
  }
}

import { addMember, countMembers, hasMember, KeyedSets, membersOf, type OneOrMany, removeMember } from '../../src/common/keyed-sets.js';

describe('KeyedSets (connection indexes that keep a lone member inline)', () => {
  it('adds, counts and lists members, one or many, without duplicates', () => {
    const sets = new KeyedSets<string, string>();
    expect(sets.add('u', 'a')).toBe(true);
    expect(sets.add('u', 'a')).toBe(false);
    expect([...sets.members('u')]).toEqual(['a']);
    expect(sets.count('u')).toBe(1);
    expect(sets.add('u', 'b')).toBe(true);
    expect(sets.add('u', 'b')).toBe(false);
    expect([...sets.members('u')]).toEqual(['a', 'b']);
    expect(sets.count('u')).toBe(2);
    expect(sets.has('u', 'b')).toBe(true);
    expect(sets.has('u', 'c')).toBe(false);
    expect(sets.has('x', 'a')).toBe(false);
    expect([...sets.members('x')]).toEqual([]);
    expect(sets.totalMembers()).toBe(2);
  });

  it('removes a key with its last member, from either form', () => {
    const sets = new KeyedSets<string, number>();
    sets.add('one', 1);
    expect(sets.delete('one', 2)).toBe(false);
    expect(sets.delete('one', 1)).toBe(true);
    expect(sets.size).toBe(0);
    sets.add('many', 1);
    sets.add('many', 2);
    expect(sets.delete('many', 1)).toBe(true);
    expect(sets.size).toBe(1);
    expect(sets.delete('many', 2)).toBe(true);
    expect(sets.delete('many', 2)).toBe(false);
    expect(sets.size).toBe(0);
    expect([...sets.keys()]).toEqual([]);
  });

  it('the OneOrMany helpers hold a lone member inline and a Set from two', () => {
    let topics: OneOrMany<string> = undefined;
    expect(countMembers(topics)).toBe(0);
    topics = addMember(topics, 't1');
    expect(topics).toBe('t1');
    expect(addMember(topics, 't1')).toBe('t1');
    topics = addMember(topics, 't2');
    expect(topics).toBeInstanceOf(Set);
    expect([...membersOf(topics)]).toEqual(['t1', 't2']);
    expect(hasMember(topics, 't2')).toBe(true);
    topics = removeMember(topics, 't1');
    topics = removeMember(topics, 't2');
    expect(topics).toBeUndefined();
    expect(removeMember<string>('a', 'b')).toBe('a');
  });

  it('members() may be iterated while members are removed', () => {
    const sets = new KeyedSets<string, number>();
    for (const n of [1, 2, 3]) sets.add('k', n);
    const seen: number[] = [];
    for (const n of sets.members('k')) {
      seen.push(n);
      sets.delete('k', n);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(sets.size).toBe(0);
  });
});

import { type BrokerMessage, InMemoryBroker, type TopicMessage } from '../../src/publishing/broker.js';
import { InMemoryRecoveryHistory, recoveryStream } from '../../src/recovery/recovery-history.js';

const push = (n: number): TopicMessage => ({ type: 'topic', namespace: 'tracking', topics: ['SHP-1'], event: 'tracking.update', data: { n }, dataJson: `{"n":${n}}` });

function broker(): { broker: InMemoryBroker; got: BrokerMessage[] } {
  const b = new InMemoryBroker();
  const got: BrokerMessage[] = [];
  b.subscribe((message) => got.push(message));
  return { broker: b, got };
}

describe('InMemoryBroker.publishToStream', () => {
  test('with a history that answers at once, each push is delivered with its position before the call returns, in call order', async () => {
    const { broker: b, got } = broker();
    const history = new InMemoryRecoveryHistory({ size: 10, ttlMs: 60_000, maxStreams: 10, maxBytes: 1 << 20 });
    const stream = recoveryStream('tracking', 'SHP-1');
    const calls = [1, 2, 3].map((n) => b.publishToStream(push(n), () => history.append(stream, `{"n":${n}}`)));
    // Nothing awaited yet: delivered in the publisher's turn.
    expect(got.map((m) => (m as TopicMessage).position?.offset)).toEqual([1, 2, 3]);
    expect(got[0]).toEqual({ ...push(1), position: { offset: 1, epoch: expect.any(String) } });
    expect((await Promise.all(calls)).map((p) => p.offset)).toEqual([1, 2, 3]);
  });

  test('with a history that answers later, the push is delivered once the position is there', async () => {
    const { broker: b, got } = broker();
    let answer!: (position: { offset: number; epoch: string }) => void;
    const call = b.publishToStream(push(1), () => new Promise((resolve) => (answer = resolve)));
    expect(got).toEqual([]);
    answer({ offset: 7, epoch: 'e' });
    expect(await call).toEqual({ offset: 7, epoch: 'e' });
    expect(got).toEqual([{ ...push(1), position: { offset: 7, epoch: 'e' } }]);
  });

  test('an append that throws rejects the publish and delivers nothing', async () => {
    const { broker: b, got } = broker();
    await expect(
      b.publishToStream(push(1), () => {
        throw new RangeError('bad stream');
      }),
    ).rejects.toThrow(RangeError);
    expect(got).toEqual([]);
  });
});

import { Observable } from 'rxjs';
import { type ClientEventSpec, type EventSpec, type PayloadOf, replyTo } from '../protocol/namespace-descriptor.js';
import type { StreamPositionData } from '../protocol/namespace-descriptors.js';
import type { StreamSubscription } from '../recovery/recoverable-streams.service.js';

/**
 * The answer to a recoverable subscribe, as an Observable: the frame dispatcher sends each
 * value the moment it is emitted, so the held-back pushes are flushed right after the answer
 * went out and before anything else reaches the connection (docs/recovery.md).
 */
export function streamReply<S extends ClientEventSpec & { readonly reply: EventSpec }>(
  spec: S,
  topicData: Omit<PayloadOf<S['reply']>, keyof StreamPositionData>,
  subscription: StreamSubscription,
): Observable<ReturnType<typeof replyTo<S>>> {
  return new Observable((subscriber) => {
    subscriber.next(replyTo(spec, { ...topicData, ...subscription.data } as PayloadOf<S['reply']>));
    subscription.flush();
    subscriber.complete();
  });
}

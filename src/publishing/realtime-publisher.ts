import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { REVOCATION_STORE, type RevocationStore } from '../auth/revocation-store.js';
import { IDENTIFIER_PATTERN, SessionEvent } from '../protocol/events.js';
import { BROKER, type Broker } from './broker.js';

export type PushData = Readonly<Record<string, unknown>>;

export interface Revocation {
  readonly jti?: string;
  readonly userId?: string;
}

/**
 * Server-side publishing for host applications (PROTOCOL.md §8). Everything goes through
 * the broker, so the same call reaches every node once Redis is configured.
 */
@Injectable()
export class RealtimePublisher {
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(REVOCATION_STORE) private readonly revocations: RevocationStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {}

  /** `tracking.update` to the subscribers of `trackingId`; the id is added to `data`. */
  async trackingUpdate(trackingId: string, data: PushData): Promise<void> {
    assertIdentifier('trackingId', trackingId);
    await this.broker.publish({
      type: 'topic',
      namespace: 'tracking',
      topic: trackingId,
      event: 'tracking.update',
      data: { ...data, trackingId },
    });
  }

  /** `system.announcement` to every connection on /ws/main. */
  async announce(data: PushData): Promise<void> {
    await this.broker.publish({ type: 'namespace', namespace: 'main', event: SessionEvent.SYSTEM_ANNOUNCEMENT, data });
  }

  /** Closes every connection of `userId` with 4401, on every node. */
  async disconnectUser(userId: string): Promise<void> {
    await this.broker.publish({ type: 'close', userId });
  }

  /**
   * Revokes a token id or a user (tokens issued up to now) for `revocationTtlMs`, and
   * closes what it matches with 4401 at once.
   */
  async revoke(revocation: Revocation): Promise<void> {
    const now = Date.now();
    const until = now + this.config.revocationTtlMs;
    if (revocation.jti !== undefined) await this.revocations.revokeToken(revocation.jti, until);
    if (revocation.userId !== undefined) await this.revocations.revokeUser(revocation.userId, now, until);
    await this.broker.publish({ type: 'close', jti: revocation.jti, userId: revocation.userId });
  }
}

function assertIdentifier(name: string, value: string): void {
  if (!IDENTIFIER_PATTERN.test(value)) throw new RangeError(`${name} must match ${IDENTIFIER_PATTERN.source}`);
}

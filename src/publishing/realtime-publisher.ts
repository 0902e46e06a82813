import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { REVOCATION_STORE, type RevocationStore } from '../auth/revocation-store.js';
import { IDENTIFIER_PATTERN, SessionEvent } from '../protocol/events.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { BROKER, type Broker } from './broker.js';

export type PushData = Readonly<Record<string, unknown>>;

export interface Revocation {
  readonly jti?: string;
  readonly userId?: string;
}

/** Who receives a mololink event: listed users and/or holders of listed roles, or everyone with `all`. */
export interface MololinkTarget {
  readonly userIds?: readonly string[];
  readonly roles?: readonly string[];
  readonly all?: boolean;
}

export const MOLOLINK_EVENT_PATTERN = /^mololink\.[a-z0-9_.-]{1,64}$/;
export const MAX_NOTIFICATION_USERS = 1000;

/**
 * A publish the contract does not allow. A 400 wherever Nest handles it: the realtime HTTP
 * API and a host's own controllers answer `{code: "VALIDATION_FAILED", message, details}`
 * without a filter of their own, never a 500.
 */
export class PublishRejected extends BadRequestException {
  constructor(
    readonly field: string,
    readonly constraint: string,
    message: string,
  ) {
    super({ code: ErrorCode.VALIDATION_FAILED, message, details: [{ field, constraints: [constraint] }] });
  }
}

function requireIdentifier(field: string, value: string): void {
  if (!IDENTIFIER_PATTERN.test(value)) throw new PublishRejected(field, 'matches', `${field} must match ${IDENTIFIER_PATTERN.source}`);
}

/**
 * Server-side publishing for host applications (docs/protocol.md §8), the one place that
 * knows what each namespace accepts. Everything goes through the broker, so the same call
 * reaches every node once Redis is configured.
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
    requireIdentifier('topic', trackingId);
    await this.broker.publish({ type: 'topic', namespace: 'tracking', topics: [trackingId], event: 'tracking.update', data: { ...data, trackingId } });
  }

  /** `project.update` to the subscribers of `projectId`; the id is added to `data`. */
  async projectUpdate(projectId: string, data: PushData): Promise<void> {
    requireIdentifier('topic', projectId);
    await this.broker.publish({ type: 'topic', namespace: 'projects', topics: [projectId], event: 'project.update', data: { ...data, projectId } });
  }

  /** `notification` to every subscribed connection of each user (1..1000 users). */
  async notify(userIds: readonly string[], data: PushData): Promise<void> {
    if (userIds.length < 1 || userIds.length > MAX_NOTIFICATION_USERS) {
      throw new PublishRejected('userIds', 'arrayLength', `userIds must list 1 to ${MAX_NOTIFICATION_USERS} users`);
    }
    await this.broker.publish({ type: 'topic', namespace: 'notifications', topics: [...new Set(userIds)], event: 'notification', data });
  }

  /** A `mololink.*` event to its targets only; no target is an error, never a broadcast (finding 18). */
  async mololink(target: MololinkTarget, event: string, data: PushData): Promise<void> {
    if (!MOLOLINK_EVENT_PATTERN.test(event)) {
      throw new PublishRejected('event', 'matches', `event must match ${MOLOLINK_EVENT_PATTERN.source}`);
    }
    const userIds = target.userIds ?? [];
    const roles = target.roles ?? [];
    if (target.all === true) {
      if (userIds.length > 0 || roles.length > 0) throw new PublishRejected('all', 'exclusive', 'all cannot be combined with userIds or roles');
      await this.broker.publish({ type: 'namespace', namespace: 'mololink', event, data });
      return;
    }
    if (userIds.length === 0 && roles.length === 0) {
      throw new PublishRejected('userIds', 'target', 'a mololink publish needs userIds, roles or all: true');
    }
    await this.broker.publish({ type: 'targeted', namespace: 'mololink', userIds, roles, event, data });
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
    if (revocation.jti === undefined && revocation.userId === undefined) {
      throw new PublishRejected('jti', 'isDefined', 'jti or userId is required');
    }
    const now = Date.now();
    const until = now + this.config.revocationTtlMs;
    if (revocation.jti !== undefined) await this.revocations.revokeToken(revocation.jti, until);
    if (revocation.userId !== undefined) await this.revocations.revokeUser(revocation.userId, now, until);
    await this.broker.publish({ type: 'close', jti: revocation.jti, userId: revocation.userId });
  }
}

import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { REVOCATION_STORE, type RevocationStore } from '../auth/revocation-store.js';
import { IDENTIFIER_PATTERN } from '../protocol/events.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { EventSpec, NamespaceDescriptor, PublishRule } from '../protocol/namespace-descriptor.js';
import { MAIN, MOLOLINK, MOLOLINK_EVENT_PATTERN, NOTIFICATIONS, PROJECTS, TRACKING, type PushData } from '../protocol/namespace-descriptors.js';
import { namespaceByName, type NamespaceName } from '../protocol/namespaces.js';
import { RecoverableStreams } from '../recovery/recoverable-streams.service.js';
import { BROKER, type Broker } from './broker.js';

export type { PushData };
export { MOLOLINK_EVENT_PATTERN };

export interface Revocation {
  readonly jti?: string;
  readonly userId?: string;
}

/** Who receives a targeted event: listed users and/or holders of listed roles, or everyone with `all`. */
export interface MololinkTarget {
  readonly userIds?: readonly string[];
  readonly roles?: readonly string[];
  readonly all?: boolean;
}

/** A server-side publish to any namespace, as `POST /realtime/publish` takes it (docs/protocol.md §8). */
export interface PublishRequest extends MololinkTarget {
  readonly topic?: string;
  readonly event?: string;
  readonly data?: PushData;
}

/** Request fields that name targets; each publish rule allows some of them. */
export const TARGET_FIELDS = ['topic', 'userIds', 'roles', 'all', 'event'] as const;
type TargetField = (typeof TARGET_FIELDS)[number];

const ALLOWED_FIELDS: Readonly<Record<NonNullable<NamespaceDescriptor['publish']>['to'], readonly TargetField[]>> = {
  topic: ['topic'],
  users: ['userIds'],
  namespace: [],
  targeted: ['userIds', 'roles', 'all', 'event'],
};

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

/** One item of a batch publish: the namespace beside the request's fields. */
export interface BatchItem extends PublishRequest {
  readonly namespace: string;
}

/** A validation detail of a batch: which item (0-based) it is about. */
export interface IndexedDetail {
  readonly index: number;
  readonly field: string;
  readonly constraints: readonly string[];
}

/** A batch with at least one item its namespace does not take: 400, nothing of it delivered. */
export class BatchRejected extends BadRequestException {
  constructor(
    readonly details: readonly IndexedDetail[],
    message = `item ${details[0]?.index ?? 0} of the batch is invalid`,
  ) {
    super({ code: ErrorCode.VALIDATION_FAILED, message, details: details.slice(0, MAX_BATCH_DETAILS) });
  }
}

/** Keeps a rejected batch's answer small whatever the batch looked like. */
const MAX_BATCH_DETAILS = 20;

function requireIdentifier(field: string, value: string): void {
  if (!IDENTIFIER_PATTERN.test(value)) throw new PublishRejected(field, 'matches', `${field} must match ${IDENTIFIER_PATTERN.source}`);
}

/**
 * Server-side publishing (docs/protocol.md §8), for host applications, the HTTP API and the
 * namespaces' own pushes: what each namespace accepts comes from its descriptor's publish
 * rule. Everything goes through the broker, so the same call reaches every node once Redis
 * is configured.
 */
@Injectable()
export class RealtimePublisher {
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(REVOCATION_STORE) private readonly revocations: RevocationStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RecoverableStreams) private readonly streams: RecoverableStreams,
  ) {}

  /**
   * Publishes to `namespace` by its publish rule; PublishRejected when the request does not fit
   * it: `check`, then `deliver`, the one per-item delivery a batch also goes through in array
   * order (validation is synchronous and nothing is awaited before a stream push takes its
   * offset, so items get their offsets in call order even when the batch does not await each).
   */
  async publish(namespace: string, request: PublishRequest): Promise<void> {
    const { descriptor, rule } = this.check(namespace, request);
    await this.deliver(descriptor, rule, request);
  }

  /** A checked request to its namespace's targets. Nothing is awaited before the first broker or stream call. */
  private async deliver(descriptor: NamespaceDescriptor, rule: PublishRule, request: PublishRequest): Promise<void> {
    const data = request.data ?? {};
    switch (rule.to) {
      case 'topic': {
        const topic = request.topic!;
        const key = descriptor.topic?.key;
        await this.toTopics(descriptor, [topic], rule.push, key === undefined ? data : { ...data, [key]: topic });
        return;
      }
      case 'users':
        await this.toTopics(descriptor, [...new Set(request.userIds)], rule.push, data);
        return;
      case 'namespace':
        await this.broker.publish({ type: 'namespace', namespace: brokerName(descriptor), event: rule.push.event, data });
        return;
      case 'targeted':
        await this.targeted(descriptor, rule.eventPattern, request, request.event ?? '', data);
        return;
    }
  }

  /**
   * Several publishes (docs/protocol.md §8 batch): every item is checked against its
   * namespace's rule before any is delivered (BatchRejected names each bad item's index),
   * then each is delivered in array order, checked once. No await between them: local delivery
   * happens in order within this turn, and the broker's Redis commands are all written
   * before the first reply is read (one pipelined round trip per batch).
   */
  async publishBatch(items: readonly BatchItem[]): Promise<void> {
    const details: IndexedDetail[] = [];
    let firstMessage = '';
    const checked = items.map((item, index) => {
      try {
        return this.check(item.namespace, item);
      } catch (error) {
        if (!(error instanceof PublishRejected)) throw error;
        if (details.length === 0) firstMessage = error.message;
        details.push({ index, field: error.field, constraints: [error.constraint] });
        return undefined;
      }
    });
    if (details.length > 0) throw new BatchRejected(details, `item ${details[0]!.index}: ${firstMessage}`);
    await Promise.all(items.map((item, index) => this.deliver(checked[index]!.descriptor, checked[index]!.rule, item)));
  }

  /** The namespace's descriptor and publish rule when `request` fits it; PublishRejected otherwise. Sends nothing. */
  check(namespace: string, request: PublishRequest): { descriptor: NamespaceDescriptor; rule: PublishRule } {
    const descriptor = namespaceByName(namespace);
    const rule = descriptor?.publish;
    const allowed = rule ? ALLOWED_FIELDS[rule.to] : [];
    for (const field of TARGET_FIELDS) {
      if (request[field] !== undefined && !allowed.includes(field)) {
        throw new PublishRejected(field, 'forbidden', `${field} is not allowed for namespace ${namespace}`);
      }
    }
    if (!descriptor || !rule) throw new PublishRejected('namespace', 'isIn', `namespace ${namespace} has no server-side publish`);
    switch (rule.to) {
      case 'topic':
        if (request.topic === undefined) throw new PublishRejected('topic', 'isDefined', `topic is required for namespace ${namespace}`);
        requireIdentifier('topic', request.topic);
        break;
      case 'users': {
        const count = request.userIds?.length ?? 0;
        if (count < 1 || count > MAX_NOTIFICATION_USERS) {
          throw new PublishRejected('userIds', 'arrayLength', `userIds must list 1 to ${MAX_NOTIFICATION_USERS} users`);
        }
        break;
      }
      case 'namespace':
        break;
      case 'targeted':
        checkTargeted(descriptor, rule.eventPattern, request, request.event ?? '');
        break;
    }
    return { descriptor, rule };
  }

  /**
   * A namespace's push to the subscribers of `topics` (rooms, chat, the activity feed use it
   * for their own events). `except`: a connection id that must not receive it.
   */
  async toTopics(descriptor: NamespaceDescriptor, topics: readonly string[], push: EventSpec, data: PushData, except?: string): Promise<void> {
    if (descriptor.recoverable && except === undefined) {
      // One stream per topic: each push gets its offset from the history (docs/protocol.md §10).
      if (topics.length === 1) await this.streams.publish(descriptor, topics[0]!, push.event, data);
      else await Promise.all(topics.map((topic) => this.streams.publish(descriptor, topic, push.event, data)));
      return;
    }
    await this.broker.publish({ type: 'topic', namespace: brokerName(descriptor), topics, event: push.event, data, ...(except !== undefined ? { except } : {}) });
  }

  /** `tracking.update` to the subscribers of `trackingId`; the id is added to `data`. */
  trackingUpdate(trackingId: string, data: PushData): Promise<void> {
    return this.publish(TRACKING.name, { topic: trackingId, data });
  }

  /** `project.update` to the subscribers of `projectId`; the id is added to `data`. */
  projectUpdate(projectId: string, data: PushData): Promise<void> {
    return this.publish(PROJECTS.name, { topic: projectId, data });
  }

  /** `notification` to every subscribed connection of each user (1..1000 users). */
  notify(userIds: readonly string[], data: PushData): Promise<void> {
    return this.publish(NOTIFICATIONS.name, { userIds, data });
  }

  /** A `mololink.*` event to its targets only; no target is an error, never a broadcast (finding 18). */
  mololink(target: MololinkTarget, event: string, data: PushData): Promise<void> {
    return this.targeted(MOLOLINK, MOLOLINK_EVENT_PATTERN, target, event, data);
  }

  /** `system.announcement` to every connection on /ws/main. */
  announce(data: PushData): Promise<void> {
    return this.publish(MAIN.name, { data });
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

  private async targeted(descriptor: NamespaceDescriptor, pattern: RegExp, target: MololinkTarget, event: string, data: PushData): Promise<void> {
    checkTargeted(descriptor, pattern, target, event);
    const namespace = brokerName(descriptor);
    if (target.all === true) {
      await this.broker.publish({ type: 'namespace', namespace, event, data });
      return;
    }
    await this.broker.publish({ type: 'targeted', namespace, userIds: target.userIds ?? [], roles: target.roles ?? [], event, data });
  }
}

/** A mololink-style publish names an event of its pattern and a target; never a broadcast by omission (finding 18). */
function checkTargeted(descriptor: NamespaceDescriptor, pattern: RegExp, target: MololinkTarget, event: string): void {
  if (!pattern.test(event)) throw new PublishRejected('event', 'matches', `event must match ${pattern.source}`);
  const targets = (target.userIds?.length ?? 0) + (target.roles?.length ?? 0);
  if (target.all === true) {
    if (targets > 0) throw new PublishRejected('all', 'exclusive', 'all cannot be combined with userIds or roles');
  } else if (targets === 0) {
    throw new PublishRejected('userIds', 'target', `a ${descriptor.name} publish needs userIds, roles or all: true`);
  }
}

/**
 * Broker messages name contract namespaces (the Redis broker has one channel each); a
 * namespace a host application added travels the same way under its own name, which the
 * in-memory broker carries as is.
 */
function brokerName(descriptor: NamespaceDescriptor): NamespaceName {
  return descriptor.name as NamespaceName;
}
